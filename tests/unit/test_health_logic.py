"""Readiness, startup and summary logic with plain callables for dependencies."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from firstmile.config import Settings
from firstmile.errors import DependencyUnavailableError
from firstmile.health.logic import check_readiness, check_startup, summarize


def refused(code: str):  # type: ignore[no-untyped-def]
    def check() -> None:
        raise ClientError({"Error": {"Code": code, "Message": "secret internals"}}, "HeadBucket")

    return check


def test_all_dependencies_answering_is_ready() -> None:
    readiness = check_readiness({"table": lambda: None, "queue:q": lambda: None}, timeout_seconds=1)

    assert readiness.status == "ok"
    assert [(c.name, c.status) for c in readiness.components] == [("table", "ok"), ("queue:q", "ok")]
    assert all(c.latency_ms >= 0 for c in readiness.components)


def test_a_refusing_dependency_is_named_with_its_error_code_only() -> None:
    readiness = check_readiness({"table": lambda: None, "bucket:b": refused("NoSuchBucket")}, timeout_seconds=1)

    assert readiness.status == "failed"
    assert readiness.failed == ["bucket:b"]
    (bucket,) = [c for c in readiness.components if c.name == "bucket:b"]
    assert bucket.reason == "NoSuchBucket"
    assert "secret internals" not in readiness.model_dump_json()


def test_a_table_failure_the_gateway_translated_is_named_with_the_services_code() -> None:
    def table() -> None:
        raise DependencyUnavailableError("table", "ResourceNotFoundException")

    readiness = check_readiness({"table": table}, timeout_seconds=1)

    assert [(c.status, c.reason) for c in readiness.components] == [("failed", "ResourceNotFoundException")]


def test_a_hanging_dependency_times_out_instead_of_hanging_the_check() -> None:
    release = threading.Event()
    try:
        readiness = check_readiness({"table": lambda: release.wait(5) and None}, timeout_seconds=0.05)
    finally:
        release.set()

    assert readiness.failed == ["table"]
    assert readiness.components[0].reason == "Timeout"


def test_startup_names_invalid_settings_without_their_values(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FIRSTMILE_DEPENDENCY_TIMEOUT_SECONDS", "-7")

    startup = check_startup(Settings.from_environment)

    assert startup.status == "failed"
    assert startup.checks[0].reason == "invalid: dependency_timeout_seconds"
    assert "-7" not in startup.model_dump_json()


def test_startup_with_defaults_is_ok() -> None:
    assert check_startup(Settings.from_environment).status == "ok"


def test_only_full_detail_shows_latency_and_reasons() -> None:
    readiness = check_readiness({"table": refused("ResourceNotFoundException")}, timeout_seconds=1)

    public = summarize(readiness, version="1", commit="c", stage="s", full_detail=False)
    operator = summarize(readiness, version="1", commit="c", stage="s", full_detail=True)

    assert public.status == "degraded"
    assert public.components[0].latency_ms is None and public.components[0].reason is None
    assert operator.components[0].reason == "ResourceNotFoundException"
    assert operator.components[0].latency_ms is not None
