"""The analytics reports an admin reads: a flow's funnel over a period of enrolment days, two periods compared, and
the recommendations the funnel's own figures give (decision 0070).

Each report reads counter items only: one Query per flow version and period, whose items are days x steps whatever
the number of users. ``ReportQuery`` is what every report is asked for: a flow, a period of whole UTC days (at most
``MAX_RANGE_DAYS``), optionally one version and one segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from firstmile import errors
from firstmile.analytics.comparison import trend
from firstmile.analytics.counting import ALL, Counts, add_up
from firstmile.analytics.funnel import FunnelView, funnel
from firstmile.analytics.ports import FunnelCounters
from firstmile.analytics.recommendations import Priority, recommendations
from firstmile.analytics.shapes import (
    Accuracy,
    Changes,
    ComparisonParams,
    ComparisonReport,
    DropOffPoint,
    FunnelReport,
    Period,
    PeriodSummary,
    RecommendationItem,
    RecommendationsReport,
    ReportParams,
    StageChange,
    StageReport,
)
from firstmile.clock import Clock, utc_now
from firstmile.errors import FieldIssue
from firstmile.onboarding.models import FlowVersion

# The longest period a report reads: half a year of enrolment days (a 20-step flow: 3,780 small items).
MAX_RANGE_DAYS = 183
DEFAULT_RANGE_DAYS = 30
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

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def report_query(params: ReportParams, *, today: date) -> ReportQuery:
    """The query a request's parameters ask for: ``to`` defaults to today, ``from`` to 30 days before ``to``; at
    most one segment filter (counters are kept per dimension). Refuses a reversed or too long period."""
    start, end = params.from_, params.to
    end = end or today
    start = start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    issues = []
    if start > end:
        issues.append(FieldIssue("query.from", "from is after to", "range_reversed"))
    elif (end - start).days + 1 > MAX_RANGE_DAYS:
        issues.append(FieldIssue("query.to", f"the period is longer than {MAX_RANGE_DAYS} days", "range_too_long"))
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
    """A period's counts and the flow version whose steps order them."""

    steps: FlowVersion
    versions: list[int]
    counts: Counts


class AnalyticsReports:
    """Funnel, comparison and recommendations over the funnel counters."""

    def __init__(self, counters: FunnelCounters, versions: FlowVersions, *, clock: Clock = utc_now) -> None:
        self._counters = counters
        self._versions = versions
        self._clock = clock

    def today(self) -> date:
        return self._clock().date()

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

    def _read(self, tenant: str, query: ReportQuery) -> _Read:
        """The counts of the period: of the version asked, or of every published version added up (their stages in
        the order of the newest)."""
        if query.version is not None:
            steps = self._versions.get(tenant, query.flow_id, query.version)
            versions = [query.version]
        else:
            steps = self._versions.latest(tenant, query.flow_id)
            versions = list(range(1, steps.version + 1))
        first, last = query.start.isoformat(), query.end.isoformat()
        items = [
            item
            for version in versions
            for item in self._counters.read(tenant, query.flow_id, version, query.segment, "DAY", first, last)
        ]
        return _Read(steps, versions, add_up(items))

    @staticmethod
    def _view(read: _Read) -> FunnelView:
        definition = read.steps.definition
        optional = [s.id for s in definition.steps if not s.required or s.gating_flag]
        return funnel([s.id for s in definition.steps], read.counts, optional=optional)


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
