"""The analytics reports an admin reads: a flow's funnel over a period of enrolment days, two periods compared, and
the recommendations the funnel's own figures give (decision 0070).

Each report reads counter items only: one Query per flow version and period, whose items are days x steps whatever
the number of users. ``ReportQuery`` is what every report is asked for: a flow, a period of whole UTC days (at most
``MAX_RANGE_DAYS``), optionally one version and one segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Protocol

from firstmile import errors
from firstmile.analytics.breakdowns import (
    by_period,
    cohort_insights,
    common_reasons,
    error_patterns,
    incomplete,
    stall_buckets,
    summary,
    time_analysis,
    weekly_cohorts,
)
from firstmile.analytics.comparison import trend
from firstmile.analytics.counting import ALL, Counts, add_up
from firstmile.analytics.funnel import FunnelView, funnel
from firstmile.analytics.ports import CounterItem, FunnelCounters
from firstmile.analytics.recommendations import Priority, recommendations
from firstmile.analytics.shapes import (
    Accuracy,
    Changes,
    CohortParams,
    CohortReport,
    CohortSegments,
    ComparisonParams,
    ComparisonReport,
    DropOffPoint,
    FunnelReport,
    HeatmapCell,
    HeatmapReport,
    HeatmapRow,
    Period,
    PeriodSummary,
    RealTime,
    RealtimeReport,
    RealtimeStage,
    RecommendationItem,
    RecommendationsReport,
    ReportParams,
    SegmentTest,
    StageChange,
    StageReport,
)
from firstmile.clock import Clock, utc_now
from firstmile.errors import FieldIssue
from firstmile.onboarding.models import FlowVersion

# The longest period a report reads: half a year of enrolment days (a 20-step flow: 3,780 small items).
MAX_RANGE_DAYS = 183
DEFAULT_RANGE_DAYS = 30
DEFAULT_COHORT_DAYS = 56
# Hourly rows of the heatmap: hour items are kept 8 days (firstmile.analytics.store).
HOURLY_DAYS = 7
# The realtime view: the last 24 enrolment hours, read at most every 5 minutes per container.
REALTIME_HOURS = 24
REALTIME_CACHE_SECONDS = 300
REALTIME_CACHE_ENTRIES = 256
# ``user_type`` as the ``returning`` segment value it reads.
USER_TYPES = {"first_time": "false", "returning": "true"}


class FlowVersions(Protocol):
    """The published versions of a tenant's flows (onboarding's ``PublishedVersions``)."""

    def get(self, tenant: str, flow_id: str, version: int) -> FlowVersion: ...

    def latest(self, tenant: str, flow_id: str) -> FlowVersion: ...


@dataclass(frozen=True)
class ReportQuery:
    """What a report is asked for. ``segment`` is one ``dimension=value`` or ``all``."""

    flow_id: str
    start: date
    end: date
    version: int | None = None
    segment: str = ALL
    # The realtime view's window: from this hour to ``last_hour`` (both UTC, ``yyyy-mm-ddThh``) instead of days.
    hours: tuple[str, str] | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, period: str) -> tuple[str, str]:
        """The first and last period keys the query reads (days, or the hours of its window)."""
        if period == "HOUR" and self.hours is not None:
            return self.hours
        return self.start.isoformat(), self.end.isoformat()


def report_query(params: ReportParams, *, today: date) -> ReportQuery:
    """The query a request's parameters ask for: ``to`` defaults to today, ``from`` to 30 days before ``to``; at
    most one segment filter (counters are kept per dimension). Refuses a reversed or too long period."""
    start, end = _period_of(params.from_, params.to, today, DEFAULT_RANGE_DAYS)
    issues = _period_issues(start, end)
    filters = {
        name: value
        for name, value in (
            ("country", params.country),
            ("locale", params.locale),
            ("plan", params.plan),
            ("returning", USER_TYPES[params.user_type] if params.user_type else None),
        )
        if value is not None
    }
    if len(filters) > 1:
        issues.append(
            FieldIssue("query", "segment filters are kept one dimension at a time; give one", "one_segment_only")
        )
    if issues:
        raise errors.DomainError(errors.VAL_REQUEST_INVALID, "The report's parameters do not fit.", fields=issues)
    segment = next((f"{name}={value}" for name, value in filters.items()), ALL)
    return ReportQuery(params.flow, start, end, params.version, segment)


def cohort_query(params: CohortParams, *, today: date) -> ReportQuery:
    """The cohorts' period: ``to`` defaults to today, ``from`` to eight weeks before."""
    start, end = _period_of(params.from_, params.to, today, DEFAULT_COHORT_DAYS)
    issues = _period_issues(start, end)
    if issues:
        raise errors.DomainError(errors.VAL_REQUEST_INVALID, "The report's parameters do not fit.", fields=issues)
    return ReportQuery(params.flow, start, end, params.version)


def _period_of(start: date | None, end: date | None, today: date, default_days: int) -> tuple[date, date]:
    end = end or today
    return start or end - timedelta(days=default_days - 1), end


def _period_issues(start: date, end: date) -> list[FieldIssue]:
    if start > end:
        return [FieldIssue("query.from", "from is after to", "range_reversed")]
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return [FieldIssue("query.to", f"the period is longer than {MAX_RANGE_DAYS} days", "range_too_long")]
    return []


def compared_query(params: ComparisonParams, looked_at: ReportQuery) -> ReportQuery:
    """Period 1 of a comparison: the days asked, or as many days just before period 2; same flow, version and
    segment."""
    end = params.compare_to or looked_at.start - timedelta(days=1)
    start = params.compare_from or end - timedelta(days=looked_at.days - 1)
    if start > end or (end - start).days + 1 > MAX_RANGE_DAYS:
        raise errors.DomainError(
            errors.VAL_REQUEST_INVALID,
            "The period to compare with does not fit.",
            fields=[FieldIssue("query.compare_from", f"a period of 1 to {MAX_RANGE_DAYS} days", "range_invalid")],
        )
    return ReportQuery(looked_at.flow_id, start, end, looked_at.version, looked_at.segment)


@dataclass(frozen=True)
class _Read:
    """A period's counter items, added up, and the flow version whose steps order them."""

    steps: FlowVersion
    versions: list[int]
    items: list[CounterItem]

    @cached_property
    def counts(self) -> Counts:
        return add_up(self.items)


class AnalyticsReports:
    """Funnel, comparison and recommendations over the funnel counters."""

    def __init__(self, counters: FunnelCounters, versions: FlowVersions, *, clock: Clock = utc_now) -> None:
        self._counters = counters
        self._versions = versions
        self._clock = clock
        # The realtime view's cache: (tenant, flow, version) -> (report, when it was read), oldest first.
        self._realtime: dict[tuple[str, str, int | None], tuple[RealtimeReport, datetime]] = {}

    def today(self) -> date:
        return self._clock().date()

    def view(self, tenant: str, query: ReportQuery) -> FunnelView:
        """The funnel of the query's period, as the alert check judges it."""
        return self._view(self._read(tenant, query))

    def funnel(self, tenant: str, query: ReportQuery) -> FunnelReport:
        read = self._read(tenant, query)
        view = self._view(read)
        return FunnelReport(
            flow_id=query.flow_id,
            versions=read.versions,
            segment=_segment(query.segment),
            period=_period(query),
            total_sessions=view.total_sessions,
            completed=view.completed,
            skipped=view.skipped,
            dropped=view.dropped,
            overall_conversion_rate=view.overall_conversion_rate,
            median_time_to_complete_seconds=view.median_seconds_to_complete,
            average_time_to_complete_seconds=view.average_seconds_to_complete,
            stages=_stages(read.steps, view),
            top_drop_off_points=[
                DropOffPoint(step_id=d.step_id, users_lost=d.lost, share=d.share, severity=d.severity)
                for d in view.top_drop_off_points
            ],
            recommendations=_recommendations(view),
            accuracy=Accuracy(),
        )

    def recommendations(self, tenant: str, query: ReportQuery, priority: Priority | None) -> RecommendationsReport:
        read = self._read(tenant, query)
        view = self._view(read)
        return RecommendationsReport(
            flow_id=query.flow_id,
            versions=read.versions,
            segment=_segment(query.segment),
            period=_period(query),
            total_sessions=view.total_sessions,
            recommendations=_recommendations(view, priority),
        )

    def heatmap(self, tenant: str, query: ReportQuery, granularity: str) -> HeatmapReport:
        """Where and when users stop: per enrolment day (or hour) and step, users lost, skips and failed attempts;
        the period's incomplete users by how long ago they entered; times; reasons and error codes."""
        if granularity == "hour" and query.days > HOURLY_DAYS:
            raise errors.DomainError(
                errors.VAL_REQUEST_INVALID,
                "Hourly rows are kept for the last days only.",
                fields=[FieldIssue("query.from", f"at most {HOURLY_DAYS} days by hour", "range_too_long")],
            )
        read = self._read(tenant, query)
        view = self._view(read)
        by_day = self._views_by_period(read, read)
        # Rows by day are the days' funnels already read; rows by hour read the hour items too.
        by_row = self._views_by_period(read, self._read(tenant, query, "HOUR")) if granularity == "hour" else by_day
        rows = [
            HeatmapRow(
                period=period,
                total_sessions=row_view.total_sessions,
                completed=row_view.completed,
                cells=[
                    HeatmapCell(
                        step_id=s.step_id,
                        users_lost=row_view.lost_at.get(s.step_id, 0),
                        skipped=s.skipped,
                        errors=s.errors,
                    )
                    for s in row_view.stages
                ],
            )
            for period, row_view in by_row.items()
        ]
        days = {date.fromisoformat(day): day_view for day, day_view in by_day.items()}
        return HeatmapReport(
            flow_id=query.flow_id,
            versions=read.versions,
            segment=_segment(query.segment),
            period=_period(query),
            granularity="hour" if granularity == "hour" else "day",
            steps=[s.step_id for s in view.stages],
            rows=rows,
            total_incomplete=incomplete(view),
            stall_time_buckets=stall_buckets(days, self.today()),
            time_analysis=time_analysis(view, days),
            common_reasons=common_reasons(read.counts),
            error_patterns=error_patterns(read.counts),
        )

    def cohorts(self, tenant: str, query: ReportQuery) -> CohortReport:
        """Weekly enrolment cohorts, and first-time against returning users (the ``returning`` segment)."""
        read = self._read(tenant, query)
        first_time = self._view(self._read(tenant, replace(query, segment="returning=false")))
        returning = self._view(self._read(tenant, replace(query, segment="returning=true")))
        test = trend(first_time.completed, first_time.total_sessions, returning.completed, returning.total_sessions)
        cohorts = weekly_cohorts(query.start, query.end, read.items, lambda counts: self._view_of(read, counts))
        return CohortReport(
            flow_id=query.flow_id,
            versions=read.versions,
            period=_period(query),
            cohorts=cohorts,
            segments=CohortSegments(first_time_users=summary(first_time), returning_users=summary(returning)),
            returning_against_first_time=SegmentTest(
                conversion_rate_change=test.conversion_rate_change,
                trend=test.trend,
                p_value=test.p_value,
                significance_level=test.significance_level,
            ),
            insights=cohort_insights(cohorts, first_time, returning, test),
        )

    def realtime(self, tenant: str, flow_id: str, version: int | None) -> tuple[RealtimeReport, float]:
        """The users who entered in the last 24 hours and what they have done since, read at most every
        ``REALTIME_CACHE_SECONDS`` per container (the cache lives in this object); with its age in seconds."""
        key = (tenant, flow_id, version)
        now = self._clock()
        cached = self._realtime.get(key)
        if cached is not None and (now - cached[1]).total_seconds() < REALTIME_CACHE_SECONDS:
            return cached[0], (now - cached[1]).total_seconds()
        first_hour = now - timedelta(hours=REALTIME_HOURS - 1)
        query = ReportQuery(
            flow_id, first_hour.date(), now.date(), version, hours=(f"{first_hour:%Y-%m-%dT%H}", f"{now:%Y-%m-%dT%H}")
        )
        read = self._read(tenant, query, "HOUR")
        view = self._view(read)
        titles = {s.id: s.title for s in read.steps.definition.steps}
        report = RealtimeReport(
            flow_id=flow_id,
            versions=read.versions,
            real_time=RealTime(
                last_updated=now.isoformat(),
                window_start=f"{first_hour:%Y-%m-%dT%H}:00:00+00:00",
                window_hours=REALTIME_HOURS,
                total_sessions=view.total_sessions,
                active_sessions=incomplete(view),
                completed=view.completed,
                skipped=view.skipped,
                completion_rate=view.overall_conversion_rate,
                cache_max_age_seconds=REALTIME_CACHE_SECONDS,
            ),
            stages=[
                RealtimeStage(
                    step_id=s.step_id,
                    title=titles[s.step_id],
                    count=s.count,
                    percent=round(100 * s.count / view.total_sessions, 1) if view.total_sessions else None,
                )
                for s in view.stages
            ],
            recommendations=_recommendations(view)[:3],
        )
        self._realtime[key] = (report, now)
        while len(self._realtime) > REALTIME_CACHE_ENTRIES:
            self._realtime.pop(next(iter(self._realtime)))
        return report, 0.0

    def comparison(self, tenant: str, first: ReportQuery, second: ReportQuery) -> ComparisonReport:
        """``second`` (usually the recent period) against ``first``."""
        before, after = self._read(tenant, first), self._read(tenant, second)
        view1, view2 = self._view(before), self._view(after)
        overall = trend(view1.completed, view1.total_sessions, view2.completed, view2.total_sessions)
        changes = []
        for stage2 in view2.stages:
            stage1 = next((s for s in view1.stages if s.step_id == stage2.step_id), None)
            count1 = stage1.count if stage1 else 0
            step_trend = trend(count1, view1.total_sessions, stage2.count, view2.total_sessions)
            changes.append(
                StageChange(
                    step_id=stage2.step_id,
                    period1_conversion_from_start=stage1.conversion_from_start if stage1 else None,
                    period2_conversion_from_start=stage2.conversion_from_start,
                    conversion_rate_change=step_trend.conversion_rate_change,
                    trend=step_trend.trend,
                    p_value=step_trend.p_value,
                )
            )
        return ComparisonReport(
            flow_id=second.flow_id,
            segment=_segment(second.segment),
            period1=_summary(first, before.versions, view1),
            period2=_summary(second, after.versions, view2),
            changes=Changes(
                conversion_rate_change=overall.conversion_rate_change,
                trend=overall.trend,
                p_value=overall.p_value,
                significance_level=overall.significance_level,
                steps=changes,
            ),
        )

    # --- reading ---------------------------------------------------------------------------------------------

    def _read(self, tenant: str, query: ReportQuery, period: str = "DAY") -> _Read:
        """The counter items of the period (``DAY``, or ``HOUR`` for whole hours from ``query.start`` to the hour of
        ``query.end_hour``): of the version asked, or of every published version (their stages in the order of the
        newest)."""
        if query.version is not None:
            steps = self._versions.get(tenant, query.flow_id, query.version)
            versions = [query.version]
        else:
            steps = self._versions.latest(tenant, query.flow_id)
            versions = list(range(1, steps.version + 1))
        first, last = query.bounds(period)
        items = [
            item
            for version in versions
            for item in self._counters.read(tenant, query.flow_id, version, query.segment, period, first, last)
        ]
        return _Read(steps, versions, items)

    def _view(self, read: _Read) -> FunnelView:
        return self._view_of(read, read.counts)

    def _views_by_period(self, steps: _Read, read: _Read) -> dict[str, FunnelView]:
        """The funnel of each period (day or hour) of ``read``'s items, in the stage order of ``steps``."""
        return {period: self._view_of(steps, add_up(items)) for period, items in by_period(read.items).items()}

    @staticmethod
    def _view_of(read: _Read, counts: Counts) -> FunnelView:
        """The funnel of ``counts`` in the stage order of the read's flow version."""
        definition = read.steps.definition
        optional = [s.id for s in definition.steps if not s.required or s.gating_flag]
        return funnel([s.id for s in definition.steps], counts, optional=optional)


def _segment(segment: str) -> dict[str, str]:
    if segment == ALL:
        return {}
    name, value = segment.split("=", 1)
    if name == "returning":
        return {"user_type": "returning" if value == "true" else "first_time"}
    return {name: value}


def _period(query: ReportQuery) -> Period:
    return Period(start=query.start, end=query.end, days=query.days)


def _stages(version: FlowVersion, view: FunnelView) -> list[StageReport]:
    by_id = {s.id: s for s in version.definition.steps}
    return [
        StageReport(
            step_id=stage.step_id,
            title=by_id[stage.step_id].title,
            required=by_id[stage.step_id].required and not by_id[stage.step_id].gating_flag,
            count=stage.count,
            entered=stage.entered,
            skipped=stage.skipped,
            errors=stage.errors,
            dropped=stage.dropped,
            users_lost=view.lost_at.get(stage.step_id, 0),
            conversion_from_previous=stage.conversion_from_previous,
            conversion_from_start=stage.conversion_from_start,
            median_time_to_reach_seconds=stage.median_seconds_to_reach,
            average_time_to_reach_seconds=stage.average_seconds_to_reach,
        )
        for stage in view.stages
    ]


def _recommendations(view: FunnelView, priority: Priority | None = None) -> list[RecommendationItem]:
    return [
        RecommendationItem(
            type=r.type,
            priority=r.priority,
            title=r.title,
            step_id=r.step_id,
            why=r.why,
            suggested_actions=list(r.suggested_actions),
            estimated_impact=r.estimated_impact,
        )
        for r in recommendations(view, priority=priority)
    ]


def _summary(query: ReportQuery, versions: Sequence[int], view: FunnelView) -> PeriodSummary:
    return PeriodSummary(
        period=_period(query),
        versions=list(versions),
        total_sessions=view.total_sessions,
        completed=view.completed,
        overall_conversion_rate=view.overall_conversion_rate,
        median_time_to_complete_seconds=view.median_seconds_to_complete,
    )
