"""What a status read costs in table reads: flags are consulted only for flows that gate a step.

Counted at the botocore level on the client every store of the container shares, so whatever the handler reads
(progress, flow version, policy versions, flag epoch, flag set) is counted, with a flag cache whose clock the test
moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from firstmile.composition import reset
from firstmile.config import reset_settings
from firstmile.flags.cache import FlagSetCache, FlagSetSource
from firstmile.platform import aws
from functions.catalog import by_name
from tests.factories import FakeLambdaContext, http_event, load_handler
from tests.integration.conftest import Deployment, DynamoCalls
from tests.integration.gated_flow import create_gating_flag, publish_default_flow

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


class Clock:
    """The flag cache's monotonic clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The deployment's containers with a flag cache on the test's clock (the audit log on its table)."""
    clock = Clock()
    # Every container this test builds (a new one after reset()) gets a flag cache on the test's clock.
    monkeypatch.setattr("firstmile.flags.cache.FlagSetCache", lambda source: _cache(source, clock))
    monkeypatch.setenv("FIRSTMILE_ROUTE_ROLE", "user")
    reset_settings()
    reset()
    yield clock
    reset()


def _cache(source: FlagSetSource, clock: Clock) -> FlagSetCache:
    return FlagSetCache(source, clock=clock)


@pytest.fixture
def reads(clock: Clock) -> Iterator[DynamoCalls]:
    """Every DynamoDB operation the container's table client sends from now on."""
    counted = DynamoCalls()
    events = aws.dynamodb().meta.events
    events.register("before-call.dynamodb", counted.record, unique_id="count-reads")
    yield counted
    events.unregister("before-call.dynamodb", unique_id="count-reads")


def _status(tenant: str, user: str) -> dict[str, Any]:
    route = by_name("onboarding_status").route
    assert route is not None
    auth = {"tenant": tenant, "sub": user, "roles": "user", "attributes": json.dumps({"plan": "pro"})}
    event = http_event(route.method, route.path, route_key=route.key, auth=auth)
    response = load_handler("onboarding_status").lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])  # type: ignore[no-any-return]


def _reads_of(calls: DynamoCalls, since: int) -> list[str]:
    return [name for name in calls.names[since:] if name in READS]


def _enrolled(tenant: str, user: str, *, gated: bool) -> None:
    """A published default flow, the user enrolled on it, and then a new container."""
    publish_default_flow(tenant, gated=gated)
    _status(tenant, user)
    reset()


def test_a_status_on_a_flow_without_gated_steps_never_reads_flags(clock: Clock, reads: DynamoCalls) -> None:
    # Given an enrolled user of a flow with no gated step, and a new container
    _enrolled("t-ungated", "u-1", gated=False)

    # When the new container answers the status: the progress, the flow version and the tenant's policy versions
    # (a Query, then cached 30 s), nothing of flags
    start = len(reads.names)
    _status("t-ungated", "u-1")
    assert _reads_of(reads, start) == ["GetItem", "GetItem", "Query"]

    # When the warm container answers again, much later than the flag check interval: only the progress
    clock.now += 60
    start = len(reads.names)
    _status("t-ungated", "u-1")
    assert _reads_of(reads, start) == ["GetItem"]


def test_a_status_on_a_gated_flow_reads_the_flag_epoch_at_most_every_second(clock: Clock, reads: DynamoCalls) -> None:
    # Given an enrolled user of a flow whose second step is gated (the tenant has no flag yet), and a new container
    _enrolled("t-gated", "u-1", gated=True)

    # When the new container answers the status: progress, flow version, policy versions, whether the user objects
    # to experiments (decision 0084; then cached 30 s), and the flag epoch (no flags: nothing to load)
    start = len(reads.names)
    status = _status("t-gated", "u-1")
    assert _reads_of(reads, start) == ["GetItem", "GetItem", "Query", "GetItem", "GetItem"]
    assert [step["id"] for step in status["hidden_steps"]] == ["invite-team"]

    # When it answers again within the check interval: only the progress
    clock.now += 0.5
    start = len(reads.names)
    _status("t-gated", "u-1")
    assert _reads_of(reads, start) == ["GetItem"]

    # When it answers after the interval: the progress and the epoch, checked again
    clock.now += 1.0
    start = len(reads.names)
    _status("t-gated", "u-1")
    assert _reads_of(reads, start) == ["GetItem", "GetItem"]


def test_a_new_container_loads_the_flag_set_once_for_a_gated_flow(clock: Clock, reads: DynamoCalls) -> None:
    # Given an enrolled user of a gated flow whose tenant has the gating flag, on for the pro plan, and a new container
    _enrolled("t-flagged", "u-1", gated=True)
    create_gating_flag("t-flagged")
    reset()

    # When the new container answers the status: progress, flow version, policy versions, the user's objection,
    # the epoch, then the set (epoch, flags, segments)
    start = len(reads.names)
    status = _status("t-flagged", "u-1")
    assert _reads_of(reads, start) == ["GetItem", "GetItem", "Query", "GetItem", "GetItem", "GetItem", "Query", "Query"]
    assert "invite-team" in [step["id"] for step in status["steps"]]

    # When it answers again within the check interval: only the progress
    clock.now += 0.5
    start = len(reads.names)
    _status("t-flagged", "u-1")
    assert _reads_of(reads, start) == ["GetItem"]
