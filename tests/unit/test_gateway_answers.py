"""The answers API Gateway makes itself, when a function or the authorizer failed (decision 0105): no function wrote
their record, so the API's access log is subscribed to the aggregator too. It tallies them as the route's server
errors, with the route's audience, and writes the record the function could not, so CloudWatch counts them too."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile.composition import container
from firstmile.sla.reports import SlaReports
from firstmile.sla.requests import (
    FUNCTION_TIMEOUT_CODE,
    GATEWAY_FAILURE_CODE,
    RequestSample,
    encode_subscription,
    gateway_sample,
    record_line,
    sample_of,
)
from functions.catalog import by_name
from functions.catalog.audiences import AUDIENCES_PATH, render, route_audiences
from infra.constructs.http_api import ACCESS_LOG_FIELDS
from local.gateway import Request, Response, access_line
from tests.factories import FakeLambdaContext, load_handler
from tests.fakes.sla import FakeTallyStore

NOW = datetime.now(UTC).replace(second=30, microsecond=0)
AT_MS = int((NOW - timedelta(minutes=2)).timestamp() * 1000)
AUDIENCES = {"POST /v1/onboarding/step": "user", "GET /v1/admin/feature-flags": "admin"}


def access(
    route: str, status: int, *, integration: str = "-", authorizer: str = "-", latency: str = "812"
) -> dict[str, Any]:
    """An access log line as the API stage writes it (every field of ACCESS_LOG_FIELDS, as text)."""
    line = dict.fromkeys(ACCESS_LOG_FIELDS, "-")
    line |= {"requestId": "r-1", "routeKey": route, "status": str(status), "latency": latency}
    return line | {"integrationErrorMessage": integration, "authorizerError": authorizer}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (access("POST /v1/onboarding/step", 504, integration="Network error"), (504, FUNCTION_TIMEOUT_CODE, "user")),
        (
            access("POST /v1/onboarding/step", 500, integration="Task timed out after 10.01 seconds"),
            (500, FUNCTION_TIMEOUT_CODE, "user"),
        ),
        (
            access("GET /v1/admin/feature-flags", 500, integration="Rate Exceeded."),
            (500, GATEWAY_FAILURE_CODE, "admin"),
        ),
        (
            access("GET /v1/admin/feature-flags", 500, authorizer="The authorizer failed"),
            (500, GATEWAY_FAILURE_CODE, "admin"),
        ),
    ],
)
def test_a_5xx_the_gateway_made_is_a_server_error_of_its_route(
    line: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    sample = gateway_sample(line, AT_MS, AUDIENCES.get)

    assert sample is not None
    assert (sample.status, sample.code, sample.audience) == expected
    assert (sample.route, sample.latency_ms, sample.at_ms) == (line["routeKey"], 812.0, AT_MS)


@pytest.mark.parametrize(
    "line",
    [
        # the function's own 5xx: its record counts it
        access("POST /v1/onboarding/step", 503),
        # a refusal the gateway made, not a failure (throttled, no route, the authorizer said no)
        access("POST /v1/onboarding/step", 429),
        access("-", 404),
        access("GET /v1/admin/feature-flags", 403),
        # a route the catalogue does not know
        access("GET /v1/unknown", 500, integration="Internal Server Error"),
    ],
)
def test_other_access_log_lines_are_not_counted(line: dict[str, Any]) -> None:
    assert gateway_sample(line, AT_MS, AUDIENCES.get) is None


def test_the_aggregator_tallies_the_gateways_answers_beside_the_records_and_writes_their_records(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a delivery mixing a function's records with the access log's lines of two answers the gateway made
    tallies = FakeTallyStore()
    container().request_tallies = tallies
    answered = RequestSample("POST /v1/onboarding/step", "user", 200, 40.0, AT_MS)
    lines = [
        ("1", AT_MS, record_line(answered, "firstmile-test-onboarding_step")),
        ("2", AT_MS, json.dumps(access("POST /v1/onboarding/step", 504, integration="Network error", latency="30001"))),
        (
            "3",
            AT_MS,
            json.dumps(access("GET /v1/admin/feature-flags", 500, authorizer="The authorizer failed", latency="12")),
        ),
    ]
    event = encode_subscription("/aws/apigateway/firstmile-test-access", lines)

    # When the aggregator takes it
    result = load_handler("sla_request_aggregator").lambda_handler(event, FakeLambdaContext())

    # Then the tallies hold all three, the gateway's as server errors of their routes, with their codes
    assert result == {"records": 3, "tallies": 2, "answered_by_gateway": 2}
    errors = SlaReports(tallies, now=lambda: NOW).error_rate("1h")
    assert (errors.requests, errors.server_errors) == (3, 2)
    assert errors.by_code == {FUNCTION_TIMEOUT_CODE: 1, GATEWAY_FAILURE_CODE: 1}
    by_route = {r.route: r.server_errors for r in errors.routes}
    assert by_route == {"POST /v1/onboarding/step": 1, "GET /v1/admin/feature-flags": 1}
    # And the user route's timeout is one of its slow requests
    times = SlaReports(tallies, now=lambda: NOW).response_times("1h")
    step = next(r for r in times.routes if r.route == "POST /v1/onboarding/step")
    assert step.requests == 2 and step.p99_ms is not None and step.p99_ms > 25_000

    # And the aggregator wrote the two records no function could, so CloudWatch's metrics count them
    written = [s for s in map(sample_of, capsys.readouterr().out.splitlines()) if s is not None]
    assert sorted((s.route, s.audience, s.status, s.code) for s in written) == [
        ("GET /v1/admin/feature-flags", "admin", 500, GATEWAY_FAILURE_CODE),
        ("POST /v1/onboarding/step", "user", 504, FUNCTION_TIMEOUT_CODE),
    ]


def test_a_delivery_taken_twice_writes_the_gateways_records_once(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a delivery with an answer API Gateway made, which Lambda hands to the aggregator twice (at least once)
    tallies = FakeTallyStore()
    container().request_tallies = tallies
    line = json.dumps(access("POST /v1/onboarding/step", 504, integration="Network error"))
    event = encode_subscription("/aws/apigateway/firstmile-test-access", [("1", AT_MS, line)])
    handler = load_handler("sla_request_aggregator")

    # When it runs on it twice
    handler.lambda_handler(event, FakeLambdaContext())
    handler.lambda_handler(event, FakeLambdaContext())

    # Then the request is counted once, and its record written once
    assert SlaReports(tallies, now=lambda: NOW).error_rate("1h").server_errors == 1
    written = [s for s in map(sample_of, capsys.readouterr().out.splitlines()) if s is not None]
    assert [(s.route, s.status) for s in written] == [("POST /v1/onboarding/step", 504)]


def test_the_local_gateways_access_line_has_the_stages_fields_and_passes_its_filter() -> None:
    # Given a request whose function timed out, as the local gateway answers it
    route = by_name("onboarding_step").route
    assert route is not None
    request = Request("POST", "/v1/onboarding/step", "", [], b"{}", "127.0.0.1")
    response = Response(504, [("apigw-requestid", "r-9")], b"{}", failed=("integrationErrorMessage", "timed out"))

    # When its access line is written
    line = access_line(request, route, response, 10_012.4)

    # Then it has exactly the fields the API stage logs, as text, and counts as the route's timeout
    assert set(line) == set(ACCESS_LOG_FIELDS)
    assert all(isinstance(value, str) for value in line.values())
    sample = gateway_sample(line, AT_MS, route_audiences().get)
    assert sample is not None
    assert (sample.route, sample.audience, sample.status, sample.code) == (
        "POST /v1/onboarding/step",
        "user",
        504,
        FUNCTION_TIMEOUT_CODE,
    )


def test_the_aggregators_route_audiences_are_the_catalogues() -> None:
    assert AUDIENCES_PATH.read_text() == render(), "run `make openapi` to rewrite the route audiences"
