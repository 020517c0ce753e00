"""Function instances: warm reuse, growth up to the concurrency limit, idle instances stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.catalog import Route
from local.environment import LocalEnvironment
from local.resources import deployment_for
from local.runtime import Invocation, Runtime
from tests.integration.local_fixtures import FixtureFunction, wait_for

SLOW = FixtureFunction(
    name="slow", domain="fixture", description="Sleeps on request.", trigger=Route("GET", "/slow", "public")
)
SERIAL = FixtureFunction(
    name="serial",
    domain="fixture",
    description="Sleeps on request, one at a time.",
    trigger=Route("GET", "/serial", "public"),
    reserved_concurrency=1,
    code="slow",
)
CATALOG = (SLOW, SERIAL)


def _runtime(idle_seconds: float = 300.0) -> Runtime:
    # These fixtures touch no AWS resource, so the emulator's address is never dialled.
    environment = LocalEnvironment(deployment_for(CATALOG), "http://127.0.0.1:9", {}, ())
    return Runtime(CATALOG, environment.for_function, max_instances=2, idle_seconds=idle_seconds).start()


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
