"""What the SLA routes answer (issue 15): the specification's names (uptime, average/p95/p99 response times, error
rate, breaches), each with the window it covers, the stated error of its percentiles and a series a console can draw
without a second call."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from firstmile.health.models import BreakerStatus, ComponentStatus
from firstmile.model import Model
from firstmile.sla.histogram import RELATIVE_ERROR

WINDOW_PATTERN = r"^[1-9][0-9]{0,3}[mhd]$"


class WindowParams(Model):
    """How far back a view looks: minutes, hours or days (``15m``, ``24h``, ``30d``), from 5 minutes to 90 days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: str = Field(
        default="24h", pattern=WINDOW_PATTERN, description="5m to 90d; up to 2h read by minute, 7d by hour"
    )


class Window(Model):
    start: datetime = Field(description="The start of the first period read (the window's start, rounded down)")
    end: datetime
    resolution: Literal["minute", "hour", "day"] = Field(description="The length of one series point")


class LatencySummary(Model):
    requests: int
    average_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class RouteLatency(LatencySummary):
    route: str = Field(description="The route's method and path template, e.g. GET /v1/flags/{key}")
    audience: str = Field(description="The role the route requires")


class LatencyPoint(LatencySummary):
    start: datetime


class ResponseTimes(LatencySummary):
    window: Window
    relative_error: float = Field(
        default=round(RELATIVE_ERROR, 4),
        description="The percentiles are within this share of the true value (within 0.5 ms below 1 ms)",
    )
    routes: list[RouteLatency] = Field(description="Every route that answered in the window, busiest first")
    series: list[LatencyPoint]


class ErrorSummary(Model):
    requests: int
    server_errors: int = Field(description="Answers with a 5xx status")
    client_errors: int = Field(description="Answers with a 4xx status")
    error_rate: float | None = Field(description="Server errors per request, 0 to 1; null without requests")
    client_error_rate: float | None


class RouteErrors(ErrorSummary):
    route: str
    audience: str
    by_code: dict[str, int]


class ErrorPoint(ErrorSummary):
    start: datetime


class ErrorRate(ErrorSummary):
    window: Window
    by_code: dict[str, int] = Field(description="4xx and 5xx answers by problem code (HTTP_<status> without one)")
    routes: list[RouteErrors] = Field(description="Every route that answered in the window, most errors first")
    series: list[ErrorPoint]


class UptimePoint(Model):
    start: datetime
    probes: int
    failed: int


class Uptime(Model):
    window: Window
    probes: int = Field(description="Synthetic probe runs in the window (one a minute)")
    failed: int = Field(description="Runs that found the deployment not ready")
    uptime_percent: float | None = Field(description="Share of runs that found it ready; null without runs")
    target_percent: float
    series: list[UptimePoint]


class BurnRate(Model):
    long_minutes: int
    short_minutes: int
    factor: float = Field(description="How many times faster than the budget allows counts as burning")
    severity: Literal["page", "ticket"]
    long_rate: float | None = Field(description="Budget burn rate over the long window; null below the guard")
    short_rate: float | None
    burning: bool


class ObjectiveState(Model):
    key: str
    title: str
    target: float
    period_days: int
    events: int = Field(description="Events over the period: requests, or probe runs")
    bad_events: int
    compliance: float | None = Field(description="Share of good events over the period; null without events")
    budget_remaining: float | None = Field(
        description="Share of the period's error budget left (negative when overspent); null without events"
    )
    state: Literal["ok", "burning", "breached", "no_data"]
    burn_rates: list[BurnRate]
    runbook: str


class BreachCheck(Model):
    checked_at: datetime
    breached: list[str] = Field(description="Objectives under their target over the period")
    burning: list[str] = Field(description="Objectives spending their budget too fast (a burn-rate rule holds)")
    objectives: list[ObjectiveState]


class SlaHealth(Model):
    status: Literal["ok", "degraded", "failed"]
    checked_at: datetime
    components: list[ComponentStatus]
    breakers: list[BreakerStatus]
    last_probe_at: datetime | None = Field(description="When the synthetic probe last ran")
    last_probe_status: Literal["ok", "failed"] | None
    uptime_24h_percent: float | None


class SlaMetrics(Model):
    window: Window
    uptime_percent: float | None
    response_times: LatencySummary
    errors: ErrorSummary
    breached: list[str]
    burning: list[str]
    objectives: list[ObjectiveState]
