"""The analytics reports over the in-memory counters: users of known days walk a three-step flow, their events are
counted as the aggregator counts them, and each report answers what those users did."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from firstmile import errors
from firstmile.analytics.reports import (
    MAX_RANGE_DAYS,
    REALTIME_CACHE_SECONDS,
    AnalyticsReports,
    ReportQuery,
    cohort_query,
    compared_query,
    report_query,
)
from firstmile.analytics.shapes import CohortParams, ComparisonParams, ReportParams
from firstmile.onboarding.models import EventType
from tests.fakes.analytics import FakeFunnelCounterStore
from tests.unit.analytics.walks import DONE, FLOW_ID, NOW, TENANT, Clock, Versions, Walker, day


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def walker() -> Walker:
    return Walker(FakeFunnelCounterStore())


@pytest.fixture
def reports(walker: Walker, clock: Clock) -> AnalyticsReports:
    return AnalyticsReports(walker.store, Versions(), clock=clock)


def query(first: int, last: int = 0, **extra: object) -> ReportQuery:
    return ReportQuery(FLOW_ID, (NOW - timedelta(days=first)).date(), (NOW - timedelta(days=last)).date(), **extra)  # type: ignore[arg-type]


def test_the_heatmap_shows_where_and_when_users_stop_and_why(walker: Walker, reports: AnalyticsReports) -> None:
    # Given, two days ago, one user who finished, one stuck at connect after a failed attempt, one who skipped the
    # tour with a reason and stopped; yesterday, one who left before the profile
    walker.user(day(2), DONE, finish=True)
    walker.user(
        day(2), [("profile", EventType.STEP_COMPLETED, None), ("connect", EventType.STEP_ERROR, "oauth_denied")]
    )
    walker.user(day(2), [("profile", EventType.STEP_COMPLETED, None), ("tour", EventType.STEP_SKIPPED, "no_time")])
    walker.user(day(1), [])

    # When the heatmap of the last three days is read by day
    heat = reports.heatmap(TENANT, query(2), "day")

    # Then each enrolment day is a row of cells per step
    assert heat.steps == ["profile", "tour", "connect"]
    rows = {row.period: row for row in heat.rows}
    first, second = rows[day(2).date().isoformat()], rows[day(1).date().isoformat()]
    assert (first.total_sessions, first.completed, second.total_sessions) == (3, 1, 1)
    cells = {c.step_id: c for c in first.cells}
    assert (cells["connect"].users_lost, cells["connect"].errors) == (2, 1)
    assert (cells["tour"].skipped, cells["tour"].users_lost) == (1, 0)
    assert {c.step_id: c.users_lost for c in second.cells} == {"profile": 1, "tour": 0, "connect": 0}
    # ...three users are still in onboarding: two entered two days ago, one yesterday
    assert heat.total_incomplete == 3
    assert {b.bucket: b.users for b in heat.stall_time_buckets} == {
        "under_1_day": 0, "1_to_3_days": 3, "3_to_7_days": 0, "7_to_14_days": 0, "over_14_days": 0}  # fmt: skip
    # ...the reasons given and the error codes met, with where they happened
    assert [(r.reason, r.count, r.share, r.steps) for r in heat.common_reasons] == [("no_time", 1, 1.0, {"tour": 1})]
    assert [(e.error_code, e.count, e.steps) for e in heat.error_patterns] == [("oauth_denied", 1, {"connect": 1})]
    # ...and the times: connect is reached 20 minutes after entering, 10 after the profile
    times = {s.step_id: s for s in heat.time_analysis.steps}
    assert times["profile"].median_gap_from_previous_seconds == pytest.approx(600, rel=0.1)
    assert heat.time_analysis.by_enrolment_weekday[day(2).weekday()].total_sessions == 3


def test_the_heatmap_by_hour_reads_the_enrolment_hours_of_the_last_days(
    walker: Walker, reports: AnalyticsReports
) -> None:
    walker.user(day(1, hour=8), DONE, finish=True)
    walker.user(day(1, hour=14), [])

    heat = reports.heatmap(TENANT, query(1), "hour")

    assert [(r.period, r.total_sessions, r.completed) for r in heat.rows] == [
        (f"{day(1, 8):%Y-%m-%dT%H}", 1, 1),
        (f"{day(1, 14):%Y-%m-%dT%H}", 1, 0),
    ]
    # Hour items are kept eight days: a longer period by hour is refused
    with pytest.raises(errors.DomainError) as refused:
        reports.heatmap(TENANT, query(7), "hour")
    assert refused.value.code == errors.VAL_REQUEST_INVALID


def test_cohorts_are_iso_weeks_and_returning_users_are_compared_with_first_time_users(
    walker: Walker, reports: AnalyticsReports
) -> None:
    # Given 20 first-time users two weeks ago (4 finish) and 20 returning users this week (16 finish)
    for n in range(20):
        walker.user(day(14), DONE, finish=n < 4)
        walker.user(day(1), DONE, finish=n < 16, returning=True)

    # When the cohorts of the last 3 weeks are read
    report = reports.cohorts(TENANT, query(20))

    # Then the weeks are ISO weeks, the first and last cut to the period, each with its users
    assert [c.week for c in report.cohorts] == ["2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    assert [c.days for c in report.cohorts] == [3, 7, 7, 4]  # from Friday 13 November to Thursday 3 December
    by_week = {c.week: c for c in report.cohorts}
    assert (by_week["2026-W47"].total_sessions, by_week["2026-W47"].conversion_rate) == (20, 0.2)
    assert (by_week["2026-W49"].total_sessions, by_week["2026-W49"].conversion_rate) == (20, 0.8)
    # ...the returning users convert better, beyond chance, and the insights say so in words
    assert report.segments.returning_users.conversion_rate == 0.8
    assert report.segments.first_time_users.conversion_rate == 0.2
    assert report.returning_against_first_time.trend == "improving"
    assert report.returning_against_first_time.p_value is not None
    assert report.returning_against_first_time.p_value < 0.001
    assert any("Returning users (20) converted 80.0 %" in line and "beyond" in line for line in report.insights)
    assert any("2026-W49" in line and "converted best" in line for line in report.insights)


def test_realtime_counts_the_last_24_hours_of_entries_and_is_cached_five_minutes(
    walker: Walker, reports: AnalyticsReports, clock: Clock
) -> None:
    # Given two users who entered in the last 24 hours (one finished) and one who entered two days ago
    walker.user(NOW - timedelta(hours=3), DONE, finish=True)
    walker.user(NOW - timedelta(hours=23), [("profile", EventType.STEP_COMPLETED, None)])
    walker.user(day(2), DONE, finish=True)

    # When the realtime view is read
    report, age = reports.realtime(TENANT, FLOW_ID, None)

    # Then it holds the two, one of them still active, with each stage in percent of them
    live = report.real_time
    assert (live.total_sessions, live.active_sessions, live.completed, live.completion_rate) == (2, 1, 1, 0.5)
    assert {s.step_id: s.percent for s in report.stages} == {"profile": 100.0, "tour": 0.0, "connect": 50.0}
    assert (live.last_updated, age) == (NOW.isoformat(), 0.0)

    # When another user enters and the view is read again within five minutes, the cached figures come back aged
    walker.user(NOW, [])
    clock.now = NOW + timedelta(seconds=REALTIME_CACHE_SECONDS - 1)
    again, age = reports.realtime(TENANT, FLOW_ID, None)
    assert (again.real_time.total_sessions, age) == (2, REALTIME_CACHE_SECONDS - 1)
    # ...and after five minutes they are read anew
    clock.now = NOW + timedelta(seconds=REALTIME_CACHE_SECONDS)
    fresh, age = reports.realtime(TENANT, FLOW_ID, None)
    assert (fresh.real_time.total_sessions, age) == (3, 0.0)


def test_report_parameters_default_and_are_bounded() -> None:
    today = NOW.date()
    asked = report_query(ReportParams.model_validate({"flow": FLOW_ID}), today=today)
    assert (asked.start, asked.end, asked.segment) == (today - timedelta(days=29), today, "all")
    assert report_query(
        ReportParams.model_validate({"flow": FLOW_ID, "user_type": "returning"}), today=today
    ).segment == ("returning=true")
    cohorts = cohort_query(CohortParams.model_validate({"flow": FLOW_ID}), today=today)
    assert cohorts.days == 56
    earlier = compared_query(ComparisonParams.model_validate({"flow": FLOW_ID}), asked)
    assert (earlier.start, earlier.end) == (today - timedelta(days=59), today - timedelta(days=30))
    for params in (
        {"flow": FLOW_ID, "from": "2026-12-02", "to": "2026-12-01"},
        {"flow": FLOW_ID, "from": str(today - timedelta(days=MAX_RANGE_DAYS)), "to": str(today)},
        {"flow": FLOW_ID, "country": "DE", "plan": "pro"},
    ):
        with pytest.raises(errors.DomainError) as refused:
            report_query(ReportParams.model_validate(params), today=today)
        assert refused.value.code == errors.VAL_REQUEST_INVALID
    assert date.fromisoformat("2026-12-03") == today
