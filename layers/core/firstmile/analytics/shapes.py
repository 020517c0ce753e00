"""What the analytics routes answer: the original specification's field names (``period``, ``total_sessions``,
``overall_conversion_rate``, ``stages``, ``top_drop_off_points``, ``recommendations``, ``period1``/``period2``,
``conversion_rate_change``, ``trend``), and what a console needs to draw them without a second call (step titles,
the versions and segment read, the test's p-value and level, the stated error of the times).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field

from firstmile.analytics.histogram import RELATIVE_ERROR
from firstmile.model import Model
from firstmile.onboarding.models import SEGMENT_VALUE, FlowId

_SEGMENT_VALUE = SEGMENT_VALUE.pattern

Severity = Literal["critical", "high", "medium", "low"]
TrendName = Literal["improving", "declining", "flat"]


class ReportParams(Model):
    """The query every report takes: a flow, whole UTC days of enrolment (``from`` defaults to 30 days before
    ``to``, ``to`` to today; at most 183 days), optionally one version and one segment filter."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    flow: FlowId
    from_: date | None = Field(default=None, alias="from", description="First enrolment day (UTC), included")
    to: date | None = Field(default=None, description="Last enrolment day (UTC), included")
    version: int | None = Field(default=None, ge=1, description="One flow version; all published versions if left out")
    country: str | None = Field(default=None, pattern=_SEGMENT_VALUE)
    locale: str | None = Field(default=None, pattern=_SEGMENT_VALUE)
    plan: str | None = Field(default=None, pattern=_SEGMENT_VALUE)
    user_type: Literal["first_time", "returning"] | None = None


class ComparisonParams(ReportParams):
    """``from``/``to`` is the period looked at (period 2); ``compare_from``/``compare_to`` the one it is compared
    with (period 1), by default as many days just before it."""

    compare_from: date | None = Field(default=None, description="First enrolment day of period 1")
    compare_to: date | None = Field(default=None, description="Last enrolment day of period 1")


class Period(Model):
    """Whole UTC days of enrolment, both included: the users counted are those who entered on these days."""

    start: date
    end: date
    days: int
    cohort: Literal["enrolment_day"] = "enrolment_day"


class Accuracy(Model):
    """How exact the figures are: counts and averages exactly; medians read from fixed log buckets."""

    counts: Literal["exact"] = "exact"
    median_relative_error: float = Field(
        default=round(RELATIVE_ERROR, 4), description="A median time is within this share of the exact one"
    )


class StageReport(Model):
    step_id: str
    title: str
    required: bool = Field(description="False for optional and flag-gated steps: nobody is lost at them")
    count: int = Field(description="Users who completed the step")
    entered: int = Field(description="Users who started the step")
    skipped: int
    errors: int = Field(description="Failed attempts reported with the step's error action")
    dropped: int = Field(description="Users idle longer than the tenant's window at this step (decision 0072)")
    users_lost: int = Field(description="Users who passed the step before and not this one")
    conversion_from_previous: float | None
    conversion_from_start: float | None
    median_time_to_reach_seconds: float | None = Field(description="From enrolment to completing the step")
    average_time_to_reach_seconds: float | None


class DropOffPoint(Model):
    step_id: str
    users_lost: int
    share: float = Field(description="Users lost here over the users who entered")
    severity: Severity


class RecommendationItem(Model):
    type: Literal["drop_off", "skipped_step", "slow_step"]
    priority: Literal["high", "medium", "low"]
    title: str
    step_id: str
    why: str
    suggested_actions: list[str]
    estimated_impact: str | None = Field(description="A range in points of overall conversion, from the numbers")


class FunnelReport(Model):
    flow_id: str
    versions: list[int] = Field(description="The flow versions whose counts were added up")
    segment: dict[str, str] = Field(description="The segment filter applied; empty for everyone")
    period: Period
    total_sessions: int = Field(description="Users who entered the flow on the period's days")
    completed: int
    skipped: int = Field(description="Users who skipped the whole onboarding")
    dropped: int = Field(description="Users idle longer than the tenant's window, who have not come back")
    overall_conversion_rate: float | None
    median_time_to_complete_seconds: float | None
    average_time_to_complete_seconds: float | None
    stages: list[StageReport]
    top_drop_off_points: list[DropOffPoint]
    recommendations: list[RecommendationItem]
    accuracy: Accuracy


class RecommendationsReport(Model):
    flow_id: str
    versions: list[int]
    segment: dict[str, str]
    period: Period
    total_sessions: int
    recommendations: list[RecommendationItem]


class PeriodSummary(Model):
    period: Period
    versions: list[int]
    total_sessions: int
    completed: int
    overall_conversion_rate: float | None
    median_time_to_complete_seconds: float | None


class StageChange(Model):
    step_id: str
    period1_conversion_from_start: float | None
    period2_conversion_from_start: float | None
    conversion_rate_change: float | None
    trend: TrendName
    p_value: float | None


class Changes(Model):
    """Overall and per step: ``period2`` against ``period1``. The trend is decided by a two-sided pooled
    two-proportion z-test of the conversions; ``improving`` or ``declining`` only when ``p_value`` is below
    ``significance_level``, else ``flat``."""

    conversion_rate_change: float | None
    trend: TrendName
    p_value: float | None
    significance_level: float
    test: Literal["two_proportion_z_test"] = "two_proportion_z_test"
    steps: list[StageChange]


class ComparisonReport(Model):
    flow_id: str
    segment: dict[str, str]
    period1: PeriodSummary
    period2: PeriodSummary
    changes: Changes


# --- drop-off heatmap ------------------------------------------------------------------------------------------


class HeatmapParams(ReportParams):
    granularity: Literal["day", "hour"] = Field(
        default="day", description="Rows by enrolment day, or by enrolment hour (at most the last 7 days)"
    )


class HeatmapCell(Model):
    step_id: str
    users_lost: int
    skipped: int
    errors: int


class HeatmapRow(Model):
    period: str = Field(description="The enrolment day (yyyy-mm-dd) or hour (yyyy-mm-ddThh, UTC)")
    total_sessions: int
    completed: int
    cells: list[HeatmapCell]


class StallBucket(Model):
    bucket: Literal["under_1_day", "1_to_3_days", "3_to_7_days", "7_to_14_days", "over_14_days"]
    users: int = Field(description="Users of the period still in onboarding, by how long ago they entered")


class StepTime(Model):
    step_id: str
    median_time_to_reach_seconds: float | None
    average_time_to_reach_seconds: float | None
    median_gap_from_previous_seconds: float | None = Field(
        description="Median time to reach it minus that of the step before"
    )


class WeekdayConversion(Model):
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    total_sessions: int
    conversion_rate: float | None


class TimeAnalysis(Model):
    median_time_to_complete_seconds: float | None
    average_time_to_complete_seconds: float | None
    steps: list[StepTime]
    slowest_step: str | None = Field(description="The step with the longest median gap from the step before")
    by_enrolment_weekday: list[WeekdayConversion]


class ReasonCount(Model):
    reason: str = Field(description="A reason code, or other for one that was not a short code")
    count: int
    share: float = Field(description="Its share of all the reasons given")
    steps: dict[str, int] = Field(description="Counts by step (FLOW: the whole onboarding was skipped)")


class ErrorPattern(Model):
    error_code: str
    count: int
    share: float = Field(description="Its share of all the failed attempts")
    steps: dict[str, int]


class HeatmapReport(Model):
    flow_id: str
    versions: list[int]
    segment: dict[str, str]
    period: Period
    granularity: Literal["day", "hour"]
    steps: list[str] = Field(description="The steps of the cells, in the flow's order")
    rows: list[HeatmapRow]
    total_incomplete: int = Field(description="Users who entered and neither completed nor skipped the onboarding")
    stall_time_buckets: list[StallBucket]
    time_analysis: TimeAnalysis
    common_reasons: list[ReasonCount]
    error_patterns: list[ErrorPattern]


# --- cohorts ---------------------------------------------------------------------------------------------------


class CohortParams(Model):
    """A flow, whole UTC days of enrolment (default: the last 8 weeks), optionally one version."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    flow: FlowId
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    version: int | None = Field(default=None, ge=1)


class CohortSummary(Model):
    total_sessions: int
    completed: int
    conversion_rate: float | None
    median_time_to_complete_seconds: float | None
    average_time_to_complete_seconds: float | None


class WeeklyCohort(CohortSummary):
    week: str = Field(description="ISO week, e.g. 2026-W48")
    start: date
    end: date
    days: int = Field(description="Days of the week inside the period (the first and last week may be partial)")


class CohortSegments(Model):
    first_time_users: CohortSummary
    returning_users: CohortSummary


class SegmentTest(Model):
    """Returning users' conversion against first-time users', by the same test as the comparison."""

    conversion_rate_change: float | None
    trend: TrendName = Field(description="improving: returning users convert better, beyond chance")
    p_value: float | None
    significance_level: float


class CohortReport(Model):
    flow_id: str
    versions: list[int]
    period: Period
    cohorts: list[WeeklyCohort]
    segments: CohortSegments
    returning_against_first_time: SegmentTest
    insights: list[str] = Field(description="Sentences derived from the numbers above")


# --- realtime --------------------------------------------------------------------------------------------------


class RealtimeParams(Model):
    model_config = ConfigDict(frozen=True)

    flow: FlowId
    version: int | None = Field(default=None, ge=1)


class RealTime(Model):
    last_updated: str = Field(description="When these figures were read (UTC, ISO-8601)")
    window_start: str = Field(description="The first enrolment hour counted (UTC)")
    window_hours: int
    total_sessions: int = Field(description="Users who entered in the window")
    active_sessions: int = Field(description="Of them, those who have neither completed nor skipped onboarding")
    completed: int
    skipped: int
    completion_rate: float | None
    cache_max_age_seconds: int


class RealtimeStage(Model):
    step_id: str
    title: str
    count: int = Field(description="Users of the window who completed the step")
    percent: float | None = Field(description="Of the users who entered in the window")


class RealtimeReport(Model):
    flow_id: str
    versions: list[int]
    real_time: RealTime
    stages: list[RealtimeStage]
    recommendations: list[RecommendationItem] = Field(description="The top 3")
