"""Function instances: warm reuse, growth up to the concurrency limit, idle instances stopped, and what an instance
forked from the fork server starts with (exactly its function's environment, nothing of its parent's state)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from firstmile.limits.models import RouteClass
from functions.catalog import Route
from local.environment import LocalEnvironment
from local.resources import deployment_for
from local.runtime import Invocation, Runtime, StartMethod
from tests.integration.local_fixtures import FixtureFunction, wait_for

SLOW = FixtureFunction(
    name="slow",
    domain="fixture",
    stack="fixture",
    description="Sleeps on request.",
    trigger=Route("GET", "/slow", "public"),
)
SERIAL = FixtureFunction(
    name="serial",
    domain="fixture",
    stack="fixture",
    description="Sleeps on request, one at a time.",
    trigger=Route("GET", "/serial", "public"),
    reserved_concurrency=1,
    code="slow",
)
ENVIRON_USER = FixtureFunction(
    name="environ_user",
    domain="fixture",
    stack="fixture",
    description="Reports its environment.",
    trigger=Route("GET", "/environ/user", "user"),
    code="environ",
)
ENVIRON_ADMIN = FixtureFunction(
    name="environ_admin",
    domain="fixture",
    stack="fixture",
    description="Reports its environment.",
    trigger=Route("GET", "/environ/admin", "admin", rate_class=RouteClass.USER_WRITE),
    memory_mb=512,
    code="environ",
)
CATALOG = (SLOW, SERIAL, ENVIRON_USER, ENVIRON_ADMIN)


# These fixtures touch no AWS resource, so the emulator's address is never dialled.
ENVIRONMENT = LocalEnvironment(deployment_for(CATALOG), "http://127.0.0.1:9", {"jobs": "http://q/1"}, ())


def _runtime(idle_seconds: float = 300.0, start_method: StartMethod = "fork") -> Runtime:
    return Runtime(
        CATALOG, ENVIRONMENT.for_function, max_instances=2, idle_seconds=idle_seconds, start_method=start_method
    ).start()


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    started = _runtime()
    yield started
    started.stop()


def _pid(invocation: Invocation) -> int:
    assert invocation.ok, invocation.error
    return int(json.loads(invocation.payload["body"])["pid"])


def _sleep(seconds: float) -> dict[str, object]:
    return {"queryStringParameters": {"sleep": str(seconds)}}


def test_a_warm_instance_is_reused_without_a_cold_start(runtime: Runtime) -> None:
    # Given a function invoked once (a cold start)
    first = runtime.invoke("slow", _sleep(0))

    # When it is invoked again
    second = runtime.invoke("slow", _sleep(0))

    # Then the same instance answers, already initialised
    assert first.cold_start and not second.cold_start
    assert _pid(first) == _pid(second)


def test_concurrent_invocations_get_instances_up_to_the_limit(runtime: Runtime) -> None:
    # Given two invocations at once of a function allowed two instances, and of one reserved to a single instance
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda _: runtime.invoke("slow", _sleep(1)), range(2)))
        serial = list(pool.map(lambda _: runtime.invoke("serial", _sleep(1)), range(2)))

    # When their instances are compared
    # Then the first ran side by side in two instances and the second waited for its only one
    assert len({_pid(i) for i in parallel}) == 2
    assert len({_pid(i) for i in serial}) == 1


def test_idle_instances_are_stopped() -> None:
    # Given a runtime that stops instances idle for a second
    runtime = _runtime(idle_seconds=1.0)
    try:
        pid = _pid(runtime.invoke("slow", _sleep(0)))
        assert runtime.instance_pids() == [pid]

        # When the instance stays idle
        # Then it is stopped
        assert wait_for(lambda: runtime.instance_pids() == [], timeout=60)
    finally:
        runtime.stop()


def _report(invocation: Invocation) -> dict[str, Any]:
    assert invocation.ok, invocation.error
    return dict(json.loads(invocation.payload["body"]))


@pytest.mark.parametrize("start_method", ["fork", "process"])
def test_an_instance_runs_with_exactly_its_functions_environment_and_nothing_inherited(
    start_method: StartMethod, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given variables in the stack's own environment that no function may see, and a runtime started after them
    monkeypatch.setenv("FIRSTMILE_TABLE_NAME", "the-developers-own-table")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("LEAK_PROBE", "from-the-stack")
    runtime = _runtime(start_method=start_method)
    try:
        # When two functions sharing one handler, with different roles and settings, are invoked
        user = runtime.invoke("environ_user", {})
        admin = runtime.invoke("environ_admin", {})
        server = runtime.fork_server.pid if runtime.fork_server is not None else None
    finally:
        runtime.stop()
    reports = {"environ_user": _report(user), "environ_admin": _report(admin)}

    # Then each saw exactly its own environment, from import on, and no client, session, cached setting, socket
    # or thread of a parent; each is its own process with its own random state
    for function in (ENVIRON_USER, ENVIRON_ADMIN):
        report = reports[function.name]
        assert report["environ"] == ENVIRONMENT.for_function(function)
        assert report["name_at_import"] == function.name
        assert (report["aws_cached"], report["boto3_default_session"], report["settings_cached"]) == (0, False, 0)
        assert report["threads"] == 1
        assert report["open_sockets"] in (0, None)
    assert (reports["environ_user"]["route_role"], reports["environ_admin"]["route_role"]) == ("user", "admin")
    assert reports["environ_admin"]["environ"]["FIRSTMILE_ROUTE_RATE_CLASS"] == "user_write"
    assert "FIRSTMILE_ROUTE_RATE_CLASS" not in reports["environ_user"]["environ"]
    assert reports["environ_user"]["random"] != reports["environ_admin"]["random"]
    assert reports["environ_user"]["pid"] != reports["environ_admin"]["pid"]
    if start_method == "fork":
        # Forked from the fork server, which had imported the layer before the handler was imported
        assert {r["ppid"] for r in reports.values()} == {server}
        assert all(r["layer_loaded_before_import"] for r in reports.values())
    else:
        assert {r["ppid"] for r in reports.values()} == {os.getpid()}
    assert user.cold_start and admin.cold_start


def test_the_fork_server_imports_the_layer_without_threads_and_ends_with_the_runtime() -> None:
    # Given a started runtime with a warm instance
    runtime = _runtime()
    assert runtime.fork_server is not None
    report = runtime.fork_server.ready()
    server = runtime.fork_server.pid
    pid = _pid(runtime.invoke("slow", _sleep(0)))

    # When the runtime stops
    runtime.stop()

    # Then the server had imported the layer in one thread, and the server and its instance are gone
    assert report["threads"] == 1
    assert report["failed"] == []
    assert report["modules"] > 300
    assert server is not None
    assert wait_for(lambda: not _exists(server) and not _exists(pid), timeout=10)


def test_a_killed_instance_is_replaced_by_a_new_fork() -> None:
    # Given a warm instance that is then killed from outside, as the OOM killer would
    runtime = _runtime()
    try:
        first = _pid(runtime.invoke("slow", _sleep(0)))
        os.kill(first, 9)

        # When the function is invoked again (the first attempt may land on the dead instance)
        again = runtime.invoke("slow", _sleep(0))
        if not again.ok:
            again = runtime.invoke("slow", _sleep(0))

        # Then a new instance answers, after a cold start
        assert _pid(again) != first
        assert again.cold_start
    finally:
        runtime.stop()


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().split(") ", 1)[-1][:1] != "Z"
    except OSError:
        return False
