"""The synthetic probe's function without AWS: its checks are plain callables and its results go to in-memory
probe results set on the container."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType

import pytest

from firstmile.backups.service import Backups
from firstmile.composition import container
from firstmile.errors import DependencyUnavailableError
from firstmile.health.models import Readiness
from firstmile.sla.reports import SlaReports
from tests.factories import FakeLambdaContext, load_handler
from tests.fakes.backups import FakeControlPlane
from tests.fakes.health import FakeProbeResultStore
from tests.fakes.sla import FakeTallyStore

SCHEDULED = {"source": "aws.scheduler"}


def missing_bucket() -> None:
    raise DependencyUnavailableError("bucket", "NoSuchBucket")


def probe_with(
    monkeypatch: pytest.MonkeyPatch, checks: dict[str, Callable[[], None]]
) -> tuple[ModuleType, FakeProbeResultStore]:
    """The probe's handler with ``checks`` for its dependencies and in-memory probe results."""
    handler = load_handler("synthetic_probe")
    monkeypatch.setattr(handler, "dependency_checks", lambda settings: checks)
    results = FakeProbeResultStore()
    container().probe_results = results
    container().request_tallies = FakeTallyStore()
    control = FakeControlPlane({"firstmile": []})
    control.created["firstmile"] = datetime.now(UTC)  # a new table: no backup is due yet
    container().backups = Backups(control, table="firstmile", stage="test")
    return handler, results


def kept_results(results: FakeProbeResultStore, before: datetime) -> list[Readiness]:
    """What the results hold for the day the probe ran on (the day ``before`` was, or the next if midnight
    passed while it ran)."""
    days = sorted({before.date(), datetime.now(UTC).date()})
    return [kept for day in days for kept in results.of_day(day)]


def test_the_probe_keeps_what_it_found(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deployment whose bucket is missing
    handler, results = probe_with(monkeypatch, {"table": lambda: None, "bucket:exports": missing_bucket})
    before = datetime.now(UTC)

    # When the scheduled probe runs
    summary = handler.lambda_handler(SCHEDULED, FakeLambdaContext())

    # Then it reports the failure and keeps one result saying what failed and why
    assert summary == {"status": "failed", "failed": ["bucket:exports"], "backup_fresh": True}
    (kept,) = kept_results(results, before)
    assert kept.status == "failed"
    assert [(c.name, c.status, c.reason) for c in kept.components] == [
        ("table", "ok", None),
        ("bucket:exports", "failed", "NoSuchBucket"),
    ]
    assert results.faults.calls["record"] == 1


def test_a_probe_that_cannot_keep_its_result_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a table that throttles the probe's write
    handler, results = probe_with(monkeypatch, {"table": lambda: None})
    results.faults.unavailable("record")

    # Then the run fails (the scheduler retries it, then its DLQ holds it) rather than reporting success
    with pytest.raises(DependencyUnavailableError):
        handler.lambda_handler(SCHEDULED, FakeLambdaContext())
    assert kept_results(results, datetime.now(UTC)) == []


def test_each_run_is_tallied_for_the_uptime_view(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a probe run that finds the bucket missing, then one that finds everything ready
    handler, _ = probe_with(monkeypatch, {"table": lambda: None, "bucket:exports": missing_bucket})
    before = datetime.now(UTC)
    handler.lambda_handler(SCHEDULED, FakeLambdaContext())
    monkeypatch.setattr(handler, "dependency_checks", lambda settings: {"table": lambda: None})
    handler.lambda_handler(SCHEDULED, FakeLambdaContext())

    # When the uptime view reads the day
    uptime = SlaReports(container().request_tallies, now=lambda: datetime.now(UTC)).uptime("1h")

    # Then it counts both runs, one of them failed
    assert (uptime.probes, uptime.failed, uptime.uptime_percent) == (2, 1, 50.0)
    assert sum(point.probes for point in uptime.series) == 2
    assert uptime.window.start <= before
