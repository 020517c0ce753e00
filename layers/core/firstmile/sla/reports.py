"""The SLA views (issue 15, decision 0101): uptime, response times, error rate, objectives and their budgets, all
computed from the request tallies (``firstmile.sla.tallies``), the same in AWS and on the local stack."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from firstmile import errors as e
from firstmile.health.models import BreakerStatus, Readiness
from firstmile.health.ports import ProbeResults
from firstmile.sla.objectives import (
    ALL_AUDIENCES,
    BURN_WINDOWS,
    OBJECTIVES,
    PERIOD_DAYS,
    PROBE_AUDIENCE,
    Objective,
    ProbeObjective,
    RequestObjective,
)
from firstmile.sla.ports import RequestTallies
from firstmile.sla.shapes import (
    BreachCheck,
    BurnRate,
    ErrorPoint,
    ErrorRate,
    ErrorSummary,
    LatencyPoint,
    LatencySummary,
    ObjectiveState,
    ResponseTimes,
    RouteErrors,
    RouteLatency,
    SlaHealth,
    SlaMetrics,
    Uptime,
    UptimePoint,
    Window,
)
from firstmile.sla.tallies import STEP, Level, Tally, TallyRow, period_start, total

K = TypeVar("K")
MIN_WINDOW = timedelta(minutes=5)
MAX_WINDOW = timedelta(days=90)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([mhd])$")


def parse_window(text: str) -> timedelta:
    """``15m``, ``24h``, ``30d`` as a duration, from 5 minutes to 90 days (``VAL_WINDOW_INVALID`` otherwise)."""
    match = _WINDOW.match(text)
    length = int(match.group(1)) * _UNITS[match.group(2)] if match else None
    if length is None or not MIN_WINDOW <= length <= MAX_WINDOW:
        raise e.DomainError(
            e.VAL_REQUEST_INVALID,
            "The window is minutes, hours or days (15m, 24h, 30d), from 5m to 90d.",
            fields=[e.FieldIssue("query.window", "from 5m to 90d", "window_out_of_range")],
        )
    return length


def level_for(length: timedelta) -> Level:
    """The coarsest level whose series still shows the window's shape: minutes up to 2 h, hours up to 7 days."""
    if length <= timedelta(hours=2):
        return "minute"
    if length <= timedelta(days=7):
        return "hour"
    return "day"


@dataclass(frozen=True)
class Read:
    window: Window
    rows: list[TallyRow]

    def requests(self) -> list[TallyRow]:
        """The API's requests (not the probe's runs, nor queue messages)."""
        return [r for r in self.rows if r.audience in ALL_AUDIENCES]

    def probes(self) -> list[TallyRow]:
        return [r for r in self.rows if r.audience == PROBE_AUDIENCE]

    def periods(self) -> list[datetime]:
        step = STEP[self.window.resolution]
        at, points = self.window.start, []
        while at < self.window.end:
            points.append(at)
            at += step
        return points


def _latency(tally: Tally) -> dict[str, float | int | None]:
    h = tally.histogram
    return {
        "requests": tally.requests,
        "average_ms": round(h.mean_ms, 3) if h.mean_ms is not None else None,
        "p50_ms": _rounded(h.percentile(50)),
        "p95_ms": _rounded(h.percentile(95)),
        "p99_ms": _rounded(h.percentile(99)),
    }


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _errors(tally: Tally) -> dict[str, float | int | None]:
    n = tally.requests
    return {
        "requests": n,
        "server_errors": tally.server_errors,
        "client_errors": tally.client_errors,
        "error_rate": round(tally.server_errors / n, 6) if n else None,
        "client_error_rate": round(tally.client_errors / n, 6) if n else None,
    }


def _grouped(rows: Iterable[TallyRow], key: Callable[[TallyRow], K]) -> dict[K, Tally]:
    """The rows' tallies added up per ``key``."""
    grouped: dict[K, Tally] = {}
    for row in rows:
        at = key(row)
        grouped[at] = grouped[at].merge(row.tally) if at in grouped else row.tally
    return grouped


def _by_route(rows: Iterable[TallyRow]) -> dict[tuple[str, str], Tally]:
    return _grouped(rows, lambda row: (row.route, row.audience))


def _by_period(rows: Iterable[TallyRow]) -> dict[datetime, Tally]:
    return _grouped(rows, lambda row: row.start)


def _bad(objective: Objective, tally: Tally) -> int:
    if objective.marked is not None:
        return tally.marked.get(objective.marked, 0)
    if isinstance(objective, RequestObjective) and objective.slower_than_ms is not None:
        return tally.slower_than.get(objective.slower_than_ms, 0)
    return tally.server_errors


def _counted(objective: Objective, rows: Iterable[TallyRow]) -> Tally:
    if isinstance(objective, ProbeObjective):
        return total(r for r in rows if r.audience == PROBE_AUDIENCE)
    return total(r for r in rows if r.audience != PROBE_AUDIENCE and r.audience in objective.audiences)


class SlaReports:
    """Every SLA view, over the tallies."""

    def __init__(
        self,
        tallies: RequestTallies,
        *,
        objectives: tuple[Objective, ...] = OBJECTIVES,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._tallies = tallies
        self._objectives = objectives
        self._now = now

    def read(self, window: str) -> Read:
        length = parse_window(window)
        level = level_for(length)
        end = self._now()
        start = period_start(end - length, level)
        return Read(Window(start=start, end=end, resolution=level), self._tallies.read(level, start, end))

    def response_times(self, window: str) -> ResponseTimes:
        read = self.read(window)
        rows = read.requests()
        routes = sorted(_by_route(rows).items(), key=lambda kv: (-kv[1].requests, kv[0]))
        periods = _by_period(rows)
        return ResponseTimes(
            window=read.window,
            **_latency(total(rows)),
            routes=[RouteLatency(route=r, audience=a, **_latency(t)) for (r, a), t in routes],
            series=[LatencyPoint(start=at, **_latency(periods.get(at, Tally()))) for at in read.periods()],
        )

    def error_rate(self, window: str) -> ErrorRate:
        read = self.read(window)
        rows = read.requests()
        summed = total(rows)
        routes = sorted(_by_route(rows).items(), key=lambda kv: (-kv[1].server_errors, -kv[1].client_errors, kv[0]))
        periods = _by_period(rows)
        return ErrorRate(
            window=read.window,
            **_errors(summed),
            by_code=dict(sorted(summed.by_code.items())),
            routes=[
                RouteErrors(route=r, audience=a, by_code=dict(sorted(t.by_code.items())), **_errors(t))
                for (r, a), t in routes
            ],
            series=[ErrorPoint(start=at, **_errors(periods.get(at, Tally()))) for at in read.periods()],
        )

    def uptime(self, window: str) -> Uptime:
        read = self.read(window)
        probes = read.probes()
        summed = total(probes)
        periods = _by_period(probes)
        availability = next((o for o in self._objectives if isinstance(o, ProbeObjective)), None)
        return Uptime(
            window=read.window,
            probes=summed.requests,
            failed=summed.server_errors,
            uptime_percent=_percent(summed),
            target_percent=round((availability.target if availability else 0.999) * 100, 4),
            series=[_uptime_point(at, periods.get(at, Tally())) for at in read.periods()],
        )

    def breach_check(self) -> BreachCheck:
        now = self._now()
        longest = max(w.long_minutes for w in BURN_WINDOWS)
        # Minutes for the windows up to an hour, hours (the window rounded down to the hour) for longer ones, days
        # for the period: three reads, each of the few partitions it needs.
        minutes = self._tallies.read("minute", period_start(now - timedelta(minutes=60), "minute"), now)
        hours = self._tallies.read("hour", period_start(now - timedelta(minutes=longest), "hour"), now)
        days = self._tallies.read("day", period_start(now - timedelta(days=PERIOD_DAYS), "day"), now)

        def within(span_minutes: int) -> list[TallyRow]:
            start = now - timedelta(minutes=span_minutes)
            if span_minutes <= 60:
                return [r for r in minutes if r.start >= period_start(start, "minute")]
            return [r for r in hours if r.start >= period_start(start, "hour")]

        states = [self._state(o, days, within) for o in self._objectives]
        return BreachCheck(
            checked_at=now,
            breached=[s.key for s in states if s.state == "breached"],
            burning=[s.key for s in states if s.state == "burning"],
            objectives=states,
        )

    def _state(
        self, objective: Objective, period: list[TallyRow], within: Callable[[int], list[TallyRow]]
    ) -> ObjectiveState:
        counted = _counted(objective, period)
        events, bad = counted.requests, _bad(objective, counted)
        rates: list[BurnRate] = []
        for rule in BURN_WINDOWS:
            long_rate = self._burn(objective, within(rule.long_minutes))
            short_rate = self._burn(objective, within(rule.short_minutes))
            burning = long_rate is not None and short_rate is not None and min(long_rate, short_rate) >= rule.factor
            rates.append(
                BurnRate(
                    long_minutes=rule.long_minutes,
                    short_minutes=rule.short_minutes,
                    factor=rule.factor,
                    severity=rule.severity,
                    long_rate=long_rate,
                    short_rate=short_rate,
                    burning=burning,
                )
            )
        compliance = (events - bad) / events if events else None
        remaining = 1 - bad / (objective.budget * events) if events else None
        if not events:
            state = "no_data"
        elif events >= objective.min_events and compliance is not None and compliance < objective.target:
            state = "breached"
        elif any(r.burning for r in rates):
            state = "burning"
        else:
            state = "ok"
        return ObjectiveState(
            key=objective.key,
            title=objective.title,
            target=objective.target,
            period_days=PERIOD_DAYS,
            events=events,
            bad_events=bad,
            compliance=round(compliance, 6) if compliance is not None else None,
            budget_remaining=round(remaining, 6) if remaining is not None else None,
            state=state,
            burn_rates=rates,
            runbook=objective.runbook,
        )

    def _burn(self, objective: Objective, rows: list[TallyRow]) -> float | None:
        """How many times faster than the budget allows the window spent it; ``None`` below the low-traffic guard."""
        counted = _counted(objective, rows)
        if counted.requests < objective.min_events:
            return None
        return round(_bad(objective, counted) / counted.requests / objective.budget, 4)

    def health(self, readiness: Readiness, breakers: list[BreakerStatus], probes: ProbeResults) -> SlaHealth:
        """Every dependency and breaker as this container sees them now, the probe's last run, the last day's uptime:
        ``failed`` when a dependency fails, ``degraded`` when a breaker is open or the probe's last run failed."""
        now = self._now()
        last = next(iter(probes.of_day(now.date()) or probes.of_day((now - timedelta(days=1)).date())), None)
        if readiness.status == "failed":
            status = "failed"
        elif any(b.state != "closed" for b in breakers) or (last is not None and last.status == "failed"):
            status = "degraded"
        else:
            status = "ok"
        return SlaHealth(
            status=status,
            checked_at=readiness.checked_at,
            components=readiness.components,
            breakers=breakers,
            last_probe_at=last.checked_at if last else None,
            last_probe_status=last.status if last else None,
            uptime_24h_percent=self.uptime("24h").uptime_percent,
        )

    def metrics(self, window: str) -> SlaMetrics:
        read = self.read(window)
        requests = total(read.requests())
        check = self.breach_check()
        return SlaMetrics(
            window=read.window,
            uptime_percent=_percent(total(read.probes())),
            response_times=LatencySummary(**_latency(requests)),
            errors=ErrorSummary(**_errors(requests)),
            breached=check.breached,
            burning=check.burning,
            objectives=check.objectives,
        )


def _uptime_point(at: datetime, probes: Tally) -> UptimePoint:
    return UptimePoint(start=at, probes=probes.requests, failed=probes.server_errors)


def _percent(probes: Tally) -> float | None:
    if not probes.requests:
        return None
    return round((probes.requests - probes.server_errors) / probes.requests * 100, 4)
