"""Service levels (issue 15): the aggregator of the request records and the operators' SLA views (decision 0101)."""

from __future__ import annotations

from firstmile.sla.requests import FILTER_PATTERN, GATEWAY_FILTER_PATTERN
from functions.catalog.health import READINESS_ACCESS
from functions.catalog.model import Access, Function, LogSubscription, Route

STACK = "sla"


def _view(name: str, path: str, description: str, *, access: Access | None = None) -> Function:
    return Function(
        name=name,
        domain="sla",
        stack=STACK,
        description=description,
        trigger=Route("GET", path, "operator"),
        timeout_seconds=10,
        access=access or Access(table="read"),
    )


FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="sla_request_aggregator",
        domain="sla",
        stack=STACK,
        description="Adds the functions' request records and API Gateway's failed answers to per-route tallies.",
        trigger=LogSubscription(FILTER_PATTERN, GATEWAY_FILTER_PATTERN),
        timeout_seconds=30,
        access=Access(table="write"),
    ),
    _view("sla_metrics", "/v1/sla/metrics", "Uptime, response times, error rate and every objective, over a window."),
    _view("sla_uptime", "/v1/sla/uptime", "The synthetic probe's share of ready runs over a window, with a series."),
    _view(
        "sla_health",
        "/v1/sla/health",
        "Every dependency and circuit breaker now, the probe's last run and the last day's uptime.",
        access=READINESS_ACCESS,
    ),
    _view("sla_breach_check", "/v1/sla/breach-check", "Which objectives are breached or burning, and budget left."),
    _view(
        "sla_response_times", "/v1/sla/response-times", "Average, p50, p95 and p99 latency, per route and over time."
    ),
    _view("sla_error_rate", "/v1/sla/error-rate", "Server and client errors by route and problem code, over time."),
)
