"""The service level objectives, defined once (issue 15): the SLA endpoints judge them, CDK turns them into burn-rate
alarms and the dashboard, and the request records count what their thresholds need.

Every objective is a ratio of good events to all events over a rolling 30 days:
- requests answered by the API's functions (``RequestObjective``): bad when the answer is a 5xx, or when it took
  longer than a threshold, over the routes of some audiences;
- the synthetic probe's runs (``ProbeObjective``): bad when readiness failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from firstmile.platform.resources import ONBOARDING_MIGRATIONS_QUEUE, SCHEDULER_DLQ
from firstmile.roles import ROLES

PERIOD_DAYS = 30
"""The period an objective's error budget is spent over."""

Audience = str
"""Requests are counted by the role their route requires (``public``, ``user``, ``admin``, ``operator``); a queue's
messages by ``queue:<name>`` (their age when taken); the synthetic probe's runs by ``probe``."""
ALL_AUDIENCES: tuple[Audience, ...] = ROLES
QUEUE_AUDIENCE_PREFIX = "queue:"
BACKUP_AUDIENCE = "backup"
"""The synthetic probe's check of the newest backup's age, one a minute (a stale one as a 503)."""
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
    marked: str | None = None
    """Bad when the record carries this mark (``firstmile.observability.mark_request``), instead of a 5xx."""

    @property
    def budget(self) -> float:
        """The share of events that may be bad."""
        return round(1.0 - self.target, 10)


@dataclass(frozen=True)
class RequestObjective(_Objective):
    audiences: tuple[Audience, ...] = ALL_AUDIENCES
    slower_than_ms: int | None = None
    """A request is bad when it took longer than this (a queue's message: when it waited longer); ``None``: when it
    answered a 5xx, or carries the objective's mark."""


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
    RequestObjective(
        key="kill-switch-propagation",
        title="User requests evaluate flags from a flag set checked within the kill switch's 5 s bound (99.9 %)",
        target=0.999,
        audiences=("user",),
        marked="flag-set-expired",
        runbook="docs/runbooks/slo-kill-switch-propagation.md",
        min_events=20,
    ),
    RequestObjective(
        key="migration-queue-age",
        title="Flow-version migration batches are taken within 5 minutes of being queued (99 %)",
        target=0.99,
        audiences=(QUEUE_AUDIENCE_PREFIX + ONBOARDING_MIGRATIONS_QUEUE,),
        slower_than_ms=300_000,
        runbook="docs/runbooks/slo-queue-age.md",
        min_events=5,
    ),
    RequestObjective(
        key="failed-work-age",
        title="Failed runs become dead-letter tasks within 5 minutes of being dead-lettered (99 %)",
        target=0.99,
        audiences=(QUEUE_AUDIENCE_PREFIX + SCHEDULER_DLQ,),
        slower_than_ms=300_000,
        runbook="docs/runbooks/slo-queue-age.md",
        min_events=5,
    ),
    RequestObjective(
        key="backup-freshness",
        title="A backup younger than 26 hours exists (99 % of the synthetic probe's runs)",
        target=0.99,
        audiences=(BACKUP_AUDIENCE,),
        runbook="docs/runbooks/restore.md",
        min_events=5,
    ),
)


@cache
def marks(objectives: tuple[Objective, ...] = OBJECTIVES) -> tuple[str, ...]:
    """The marks a request record counts (one metric each)."""
    return tuple(sorted({o.marked for o in objectives if o.marked}))


@cache
def slow_thresholds(objectives: tuple[Objective, ...] = OBJECTIVES) -> tuple[int, ...]:
    """The latency thresholds the request records count requests above, exactly (not by histogram bucket)."""
    return tuple(sorted({o.slower_than_ms for o in objectives if isinstance(o, RequestObjective) and o.slower_than_ms}))
