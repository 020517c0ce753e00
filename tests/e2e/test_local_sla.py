"""The SLA views over the running stack (decision 0101): every route function writes its request record to its log,
the stack's log subscription delivers the records to the aggregator as CloudWatch Logs does, and the views answer
from the tallies. What they answer is checked against a brute-force computation over the same records, read back
from the stack's log file: counts and error rates exactly, p95 and p99 within the histogram's stated error."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from firstmile.roles import ROLES
from firstmile.sla.histogram import FLOOR_ERROR_MS, RELATIVE_ERROR
from firstmile.sla.requests import RequestSample, sample_of
from tests.e2e.harness import RunningStack, TenantTokens, call, tenant_with_tokens, until

pytestmark = pytest.mark.e2e

# The log subscription delivers every five seconds; the aggregator may start cold on a loaded machine.
AGGREGATED_TIMEOUT_SECONDS = 60.0
PROBE_TIMEOUT_SECONDS = 90.0
_SLA_VIEWS = "GET /v1/sla/"


@pytest.fixture(scope="module")
def tenant(stack: RunningStack) -> TenantTokens:
    return tenant_with_tokens(stack, f"e2e-sla-{uuid.uuid4().hex[:6]}")


def records(stack: RunningStack, since: datetime) -> dict[str, list[RequestSample]]:
    """The API's request records in the stack's log, answered at or after ``since``, by route (the SLA views' own
    left out: every read of a view adds one)."""
    by_route: dict[str, list[RequestSample]] = defaultdict(list)
    for line in stack.log_path.read_text(errors="replace").splitlines():
        sample = sample_of(line) if "firstmile_request" in line else None
        if (
            sample
            and sample.audience in ROLES  # the API's answers: not the queues' messages
            and sample.at_ms >= since.timestamp() * 1000
            and not sample.route.startswith(_SLA_VIEWS)
        ):
            by_route[sample.route].append(sample)
    return by_route


def view(stack: RunningStack, tenant: TenantTokens, path: str) -> dict[str, Any]:
    reply = call(stack.url(path), "GET", {"Authorization": f"Bearer {tenant.operator}"})
    assert reply.status == 200, reply.body
    answer: dict[str, Any] = reply.json()
    return answer


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


def test_the_views_agree_with_the_request_records(stack: RunningStack, tenant: TenantTokens) -> None:
    user = {"Authorization": f"Bearer {tenant.user}"}
    # Given traffic of several routes: answers, refusals of bad input, evaluations
    for _ in range(30):
        assert call(stack.url("/v1/onboarding/status"), "GET", user).status in (200, 404, 409)
    for _ in range(8):
        assert call(stack.url("/v1/onboarding/step"), "POST", user, {"step_id": ""}).status == 422
    for i in range(6):
        call(stack.url("/v1/flags/evaluate"), "POST", user, {"flags": [f"e2e-unknown-{i}"]} if i % 2 else {"x": 1})

    # When the views are read until the records have been aggregated: both answers, then the log read after them,
    # count the same requests per route (records only add up, so the three then hold the same records)
    def snapshot() -> tuple[dict[str, Any], dict[str, Any], dict[str, list[RequestSample]]]:
        times = view(stack, tenant, "/v1/sla/response-times?window=1h")
        errors = view(stack, tenant, "/v1/sla/error-rate?window=1h")
        return times, errors, records(stack, datetime.fromisoformat(times["window"]["start"]))

    def counted(answer: dict[str, Any]) -> dict[str, int]:
        return {r["route"]: r["requests"] for r in answer["routes"] if not r["route"].startswith(_SLA_VIEWS)}

    def agreed(seen: tuple[dict[str, Any], dict[str, Any], dict[str, list[RequestSample]]]) -> bool:
        times, errors, logged = seen
        in_log = {route: len(samples) for route, samples in logged.items()}
        return counted(times) == counted(errors) == in_log

    times, errors, logged = until(
        "the SLA views to count every logged request", snapshot, agreed, AGGREGATED_TIMEOUT_SECONDS
    )

    # Then per route, the counts and error classes are exact and p95/p99 are within the stated error
    assert "GET /v1/onboarding/status" in logged and "POST /v1/onboarding/step" in logged
    for route in errors["routes"]:
        if route["route"].startswith(_SLA_VIEWS):
            continue
        mine = logged[route["route"]]
        assert route["server_errors"] == sum(s.status >= 500 for s in mine), route
        assert route["client_errors"] == sum(400 <= s.status < 500 for s in mine), route
    step = next(r for r in errors["routes"] if r["route"] == "POST /v1/onboarding/step")
    assert step["by_code"].get("VAL_REQUEST_INVALID", 0) >= 8
    for route in times["routes"]:
        if route["route"].startswith(_SLA_VIEWS):
            continue
        latencies = [s.latency_ms for s in logged[route["route"]]]
        for p in (95, 99):
            truth = nearest_rank(latencies, p)
            assert abs(route[f"p{p}_ms"] - truth) <= max(RELATIVE_ERROR * truth, FLOOR_ERROR_MS) + 1e-6, (route, p)

    # And the objectives are judged, with the synthetic probe's runs counted for availability
    check = view(stack, tenant, "/v1/sla/breach-check")
    states = {o["key"]: o for o in check["objectives"]}
    assert {"availability", "error-rate", "latency-p95", "latency-p99"} <= set(states)
    assert states["error-rate"]["events"] >= sum(len(s) for s in logged.values())
    # (the probe runs every minute: on a stack just started, its first run may still be to come)
    uptime = until(
        "the synthetic probe's first run",
        lambda: view(stack, tenant, "/v1/sla/uptime?window=1h"),
        lambda answer: answer["probes"] >= 1,
        PROBE_TIMEOUT_SECONDS,
    )
    assert uptime["probes"] == sum(p["probes"] for p in uptime["series"])
    assert uptime["uptime_percent"] == round((uptime["probes"] - uptime["failed"]) / uptime["probes"] * 100, 4)
    health = view(stack, tenant, "/v1/sla/health")
    assert health["status"] in ("ok", "degraded") and {c["name"] for c in health["components"]} >= {"table"}
    metrics = view(stack, tenant, "/v1/sla/metrics?window=1h")
    assert metrics["response_times"]["requests"] >= sum(len(s) for s in logged.values())
