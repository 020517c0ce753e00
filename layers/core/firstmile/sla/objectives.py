"""The service level objectives, defined once (issue 15): the SLA endpoints judge them, CDK turns them into burn-rate
alarms and the dashboard, and the request records count what their thresholds need.

Every objective is a ratio of good events to all events over a rolling 30 days:
- requests answered by the API's functions (``RequestObjective``): bad when the answer is a 5xx, or when it took
  longer than a threshold, over the routes of some audiences;
- the synthetic probe's runs (``ProbeObjective``): bad when readiness failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from firstmile.roles import ROLES, Role

PERIOD_DAYS = 30
"""The period an objective's error budget is spent over."""

Audience = Role
"""Requests are counted by the role their route requires."""
ALL_AUDIENCES: tuple[Audience, ...] = ROLES
PROBE_AUDIENCE = "probe"
"""The synthetic probe's runs are kept with the requests (``firstmile.sla.tallies``) under this audience."""


@dataclass(frozen=True)
class BurnWindow:
    """A multiwindow burn-rate rule: the budget burns ``factor`` times too fast over both windows."""

    long_minutes: int
    short_minutes: int
    factor: float
    severity: Literal["page", "ticket"]


BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow(60, 5, 14.4, "page"),
    BurnWindow(6 * 60, 30, 6.0, "page"),
    BurnWindow(3 * 24 * 60, 6 * 60, 1.0, "ticket"),
)
"""14.4x spends 2 % of a 30-day budget in an hour, 6x 5 % in six hours, 1x 10 % in three days."""


@dataclass(frozen=True)
class _Objective:
    key: str
    title: str
    target: float
    runbook: str
    min_events: int
    """The low-traffic guard: a window with fewer events never counts as burning."""

    @property
    def budget(self) -> float:
        """The share of events that may be bad."""
        return round(1.0 - self.target, 10)


@dataclass(frozen=True)
class RequestObjective(_Objective):
    audiences: tuple[Audience, ...] = ALL_AUDIENCES
    slower_than_ms: int | None = None
    """``None``: a request is bad when it answered a 5xx; otherwise when it took longer than this."""


@dataclass(frozen=True)
class ProbeObjective(_Objective):
    """Bad when the synthetic probe found the deployment not ready."""


Objective = RequestObjective | ProbeObjective

OBJECTIVES: tuple[Objective, ...] = (
    ProbeObjective(
        key="availability",
        title="The synthetic probe finds the deployment ready (99.9 % of its runs)",
        target=0.999,
        runbook="docs/runbooks/slo-availability.md",
        min_events=5,
    ),
    RequestObjective(
        key="error-rate",
        title="API requests answer without a server error (99.5 %)",
        target=0.995,
        runbook="docs/runbooks/slo-error-rate.md",
        min_events=20,
    ),
    RequestObjective(
        key="latency-p95",
        title="User routes answer within 300 ms (95 % of requests)",
        target=0.95,
        audiences=("user",),
        slower_than_ms=300,
        runbook="docs/runbooks/slo-latency.md",
        min_events=20,
    ),
    RequestObjective(
        key="latency-p99",
        title="User routes answer within 1 s (99 % of requests)",
        target=0.99,
        audiences=("user",),
        slower_than_ms=1000,
        runbook="docs/runbooks/slo-latency.md",
        min_events=20,
    ),
)


def slow_thresholds(objectives: tuple[Objective, ...] = OBJECTIVES) -> tuple[int, ...]:
    """The latency thresholds the request records count requests above, exactly (not by histogram bucket)."""
    return tuple(sorted({o.slower_than_ms for o in objectives if isinstance(o, RequestObjective) and o.slower_than_ms}))
