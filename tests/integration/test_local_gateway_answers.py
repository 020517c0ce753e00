"""The answers the local gateway makes itself, when a function times out or fails, reach the tallies through the
access log's subscription, as in AWS (decision 0105): the real aggregator counts them as their routes' server
errors, and writes the records their functions could not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from firstmile.sla.requests import FUNCTION_TIMEOUT_CODE, GATEWAY_FAILURE_CODE
from firstmile.sla.store import TallyStore
from functions.catalog import Route, by_name
from local.config import LocalConfig
from local.stack import LocalStack
from tests.integration.local_fixtures import FixtureFunction, http_call, wait_for


def _fixture(name: str, route: Route, *, timeout: int = 5) -> FixtureFunction:
    return FixtureFunction(
        name=name, domain="fixture", stack="fixture", description=f"{name} fixture", trigger=route,
        timeout_seconds=timeout,
    )  # fmt: skip


# Fixture functions on two of the catalogue's routes (the aggregator knows their audiences), and the real aggregator.
CATALOG = (
    _fixture("slow", Route("GET", "/health/live", "public"), timeout=1),
    _fixture("crash", Route("GET", "/health/startup", "public")),
    by_name("sla_request_aggregator"),
)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(LocalConfig(port=0, aws_port=0), CATALOG).start()
    yield started
    started.stop()


def test_a_timeout_and_a_crash_count_as_their_routes_server_errors(stack: LocalStack) -> None:
    # Given a function that runs past its timeout and one that crashes
    # When each is called through the gateway
    timed_out = http_call(stack.api_url, "GET", "/health/live?sleep=3")
    crashed = http_call(stack.api_url, "GET", "/health/startup")
    assert (timed_out.status, crashed.status) == (504, 500)

    # Then the tallies count the two answers the gateway made as their routes' server errors, with their codes
    assert stack.log_subscriptions is not None
    stack.log_subscriptions.flush()
    table = boto3.resource(
        "dynamodb", endpoint_url=stack.aws_endpoint, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106 - the emulator's placeholders
    ).Table(stack.deployment.table_name)  # fmt: skip
    tallies = TallyStore(table)
    now = datetime.now(UTC)

    def by_route() -> dict[str, tuple[int, dict[str, int], dict[str, int]]]:
        rows = tallies.read("minute", now - timedelta(minutes=5), now + timedelta(minutes=1))
        found: dict[str, tuple[int, dict[str, int], dict[str, int]]] = {}
        for row in rows:
            count, classes, codes = found.get(row.route, (0, {}, {}))
            classes = {k: classes.get(k, 0) + row.tally.by_class.get(k, 0) for k in {*classes, *row.tally.by_class}}
            codes = {k: codes.get(k, 0) + row.tally.by_code.get(k, 0) for k in {*codes, *row.tally.by_code}}
            found[row.route] = (count + row.tally.requests, classes, codes)
        return found if {"GET /health/live", "GET /health/startup"} <= set(found) else {}

    found = wait_for(by_route, timeout=60)
    assert found["GET /health/live"] == (1, {"5xx": 1}, {FUNCTION_TIMEOUT_CODE: 1})
    assert found["GET /health/startup"] == (1, {"5xx": 1}, {GATEWAY_FAILURE_CODE: 1})
    # And the records the aggregator wrote for them are not delivered back to it (in AWS its own log group has no
    # subscription): only the two access log lines were ever delivered
    subscriptions = stack.log_subscriptions
    wait_for(lambda: subscriptions.skipped >= 2, timeout=30)
    subscriptions.flush()
    assert (subscriptions.delivered, subscriptions.skipped) == (2, 2)
