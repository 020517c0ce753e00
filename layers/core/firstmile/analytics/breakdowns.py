"""Funnels broken down by period, reason, error and cohort: what the heatmap, cohort and realtime reports draw from
the counter items (decision 0070). Pure: the items come from the reports' reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta

from firstmile.analytics.comparison import Trend
from firstmile.analytics.counting import Counts, add_up
from firstmile.analytics.funnel import FunnelView
from firstmile.analytics.ports import CounterItem
from firstmile.analytics.shapes import (
    CohortSummary,
    ErrorPattern,
    ReasonCount,
    StallBucket,
    StepTime,
    TimeAnalysis,
    WeekdayConversion,
    WeeklyCohort,
)

TOP_REASONS = 10
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Incomplete users by how long ago they entered: (bucket, at least this many days ago).
STALL_BUCKETS = (("over_14_days", 14), ("7_to_14_days", 7), ("3_to_7_days", 3), ("1_to_3_days", 1), ("under_1_day", 0))


def by_period(items: Iterable[CounterItem]) -> dict[str, list[CounterItem]]:
    """Counter items grouped by their period value (``2026-11-20`` or ``2026-11-20T09``), in key order."""
    grouped: dict[str, list[CounterItem]] = {}
    for sk, counts in items:
        period = sk.split("#", 2)[1]
        grouped.setdefault(period, []).append((sk, counts))
    return dict(sorted(grouped.items()))


def incomplete(view: FunnelView) -> int:
    """Users who entered and neither completed nor skipped the onboarding."""
    return max(view.total_sessions - view.completed - view.skipped, 0)


def _ranked(counts: Counts, prefix: str) -> list[tuple[str, int, float, dict[str, int]]]:
    """The ``<prefix><code>`` counters as (code, count, share of all, count by target), the most frequent first, at
    most ``TOP_REASONS``."""
    coded: dict[str, dict[str, int]] = {}
    for target, attributes in counts.by_target.items():
        for name, amount in attributes.items():
            if name.startswith(prefix) and amount:
                coded.setdefault(name[len(prefix) :], {})[target] = int(amount)
    totals = {code: sum(steps.values()) for code, steps in coded.items()}
    everything = sum(totals.values())
    ranked = sorted(coded, key=lambda code: (-totals[code], code))[:TOP_REASONS]
    return [(code, totals[code], round(totals[code] / everything, 4), coded[code]) for code in ranked]


def common_reasons(counts: Counts) -> list[ReasonCount]:
    """Skip reasons, the most given first, with their share and where they were given."""
    return [ReasonCount(reason=c, count=n, share=share, steps=at) for c, n, share, at in _ranked(counts, "r#")]


def error_patterns(counts: Counts) -> list[ErrorPattern]:
    """Error codes of failed attempts, the most frequent first, and where they happened."""
    return [ErrorPattern(error_code=c, count=n, share=share, steps=at) for c, n, share, at in _ranked(counts, "e#")]


def stall_buckets(days: Mapping[date, FunnelView], today: date) -> list[StallBucket]:
    """The period's incomplete users by how long ago they entered (their enrolment day against ``today``)."""
    users = dict.fromkeys((name for name, _ in STALL_BUCKETS), 0)
    for day, view in days.items():
        age = (today - day).days
        bucket = next(name for name, at_least in STALL_BUCKETS if age >= at_least)
        users[bucket] += incomplete(view)
    return [StallBucket(bucket=name, users=users[name]) for name, _ in reversed(STALL_BUCKETS)]


def time_analysis(view: FunnelView, days: Mapping[date, FunnelView]) -> TimeAnalysis:
    """Times to complete and to reach each step, the slowest step, and conversion by enrolment weekday."""
    steps, previous = [], 0.0
    slowest: tuple[float, str] | None = None
    for stage in view.stages:
        gap = None
        if stage.median_seconds_to_reach is not None:
            gap = round(max(stage.median_seconds_to_reach - previous, 0.0), 1)
            previous = stage.median_seconds_to_reach
            if slowest is None or gap > slowest[0]:
                slowest = (gap, stage.step_id)
        steps.append(
            StepTime(
                step_id=stage.step_id,
                median_time_to_reach_seconds=stage.median_seconds_to_reach,
                average_time_to_reach_seconds=stage.average_seconds_to_reach,
                median_gap_from_previous_seconds=gap,
            )
        )
    entered, completed = [0] * 7, [0] * 7
    for day, day_view in days.items():
        entered[day.weekday()] += day_view.total_sessions
        completed[day.weekday()] += day_view.completed
    return TimeAnalysis(
        median_time_to_complete_seconds=view.median_seconds_to_complete,
        average_time_to_complete_seconds=view.average_seconds_to_complete,
        steps=steps,
        slowest_step=slowest[1] if slowest else None,
        by_enrolment_weekday=[
            WeekdayConversion(
                weekday=name,
                total_sessions=entered[n],
                conversion_rate=round(completed[n] / entered[n], 4) if entered[n] else None,
            )
            for n, name in enumerate(WEEKDAYS)
        ],
    )


def summary(view: FunnelView) -> CohortSummary:
    return CohortSummary(
        total_sessions=view.total_sessions,
        completed=view.completed,
        conversion_rate=view.overall_conversion_rate,
        median_time_to_complete_seconds=view.median_seconds_to_complete,
        average_time_to_complete_seconds=view.average_seconds_to_complete,
    )


def weeks(start: date, end: date) -> list[tuple[str, date, date]]:
    """The ISO weeks that overlap ``start``..``end``: their name and the days of each inside the range."""
    found, day = [], start
    while day <= end:
        year, week, weekday = day.isocalendar()
        last = min(day + timedelta(days=7 - weekday), end)
        found.append((f"{year}-W{week:02d}", day, last))
        day = last + timedelta(days=1)
    return found


def weekly_cohorts(
    start: date, end: date, items: Sequence[CounterItem], view_of: Callable[[Counts], FunnelView]
) -> list[WeeklyCohort]:
    """The period's users by ISO week of enrolment, each week's day items added up."""
    grouped = by_period(items)
    cohorts = []
    for name, first, last in weeks(start, end):
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        view = view_of(add_up(item for day in days for item in grouped.get(day, [])))
        cohorts.append(WeeklyCohort(week=name, start=first, end=last, days=len(days), **summary(view).model_dump()))
    return cohorts


def cohort_insights(
    cohorts: Sequence[WeeklyCohort], first_time: FunnelView, returning: FunnelView, test: Trend
) -> list[str]:
    """What the numbers say, in words: the best and the latest week, and returning against first-time users."""
    said = []
    counted = [c for c in cohorts if c.total_sessions and c.conversion_rate is not None]
    if len(counted) >= 2:
        best = max(counted, key=lambda c: (c.conversion_rate or 0.0, c.total_sessions))
        said.append(
            f"The week of {best.start.isoformat()} ({best.week}) converted best: {_percent(best.conversion_rate)} of "
            f"{best.total_sessions} users."
        )
        latest, before = counted[-1], counted[-2]
        change = (latest.conversion_rate or 0.0) - (before.conversion_rate or 0.0)
        said.append(
            f"The latest week ({latest.week}) converted {_percent(latest.conversion_rate)}, "
            f"{_points(change)} against the week before ({_percent(before.conversion_rate)})."
        )
    if first_time.total_sessions and returning.total_sessions and test.p_value is not None:
        verdict = {
            "improving": "better than first-time users, beyond what chance explains",
            "declining": "worse than first-time users, beyond what chance explains",
            "flat": "no differently from first-time users as far as the numbers can tell",
        }[test.trend]
        said.append(
            f"Returning users ({returning.total_sessions}) converted {_percent(returning.overall_conversion_rate)}, "
            f"first-time users ({first_time.total_sessions}) {_percent(first_time.overall_conversion_rate)}: "
            f"{verdict} (p = {test.p_value:.3g})."
        )
    elif not returning.total_sessions:
        said.append("No returning users entered in this period.")
    slow = [c for c in counted if c.median_time_to_complete_seconds]
    if slow:
        quickest = min(slow, key=lambda c: c.median_time_to_complete_seconds or 0.0)
        said.append(
            f"Users of {quickest.week} finished fastest: a median of "
            f"{_duration(quickest.median_time_to_complete_seconds or 0.0)} from entering."
        )
    return said


def _percent(rate: float | None) -> str:
    return "no conversion" if rate is None else f"{rate * 100:.1f} %"


def _points(change: float) -> str:
    return f"{'+' if change >= 0 else '-'}{abs(change) * 100:.1f} points"


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"
