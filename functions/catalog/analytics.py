"""Analytics: the funnel counters kept from the table's change stream (decision 0070)."""

from __future__ import annotations

from functools import partial

from firstmile.onboarding import EVENT_KIND
from functions.catalog.model import Access, Function, TableStream, http_function

STACK = "analytics"

_report = partial(http_function, domain="analytics", stack=STACK, role="admin", table="read")
_REPORTS = "/v1/onboarding/analytics"

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="funnel_aggregator",
        domain="analytics",
        stack=STACK,
        description="Counts onboarding events from the table's stream into the funnel counters, once each.",
        # Each event is one transaction of up to seven items; a full batch of 100 takes about a second.
        trigger=TableStream(batch_size=100, retry_attempts=5, max_batching_window_seconds=1, inserts_of=(EVENT_KIND,)),
        timeout_seconds=60,
        access=Access(table="write"),
    ),
    Function(
        name="analytics_archiver",
        domain="analytics",
        stack=STACK,
        description="Writes onboarding's transition events to the S3 archive as gzipped JSON lines, batched.",
        # Up to 1,000 events or a minute's worth: objects of many events each, never one per event.
        trigger=TableStream(
            batch_size=1000, retry_attempts=5, max_batching_window_seconds=60, inserts_of=(EVENT_KIND,)
        ),
        timeout_seconds=120,
        memory_mb=512,
        access=Access(archive_bucket="write"),
    ),
    _report(
        "analytics_funnel",
        "GET",
        f"{_REPORTS}/funnel",
        "A flow's funnel over enrolment days: stages, conversions, times, drop-offs and recommendations.",
    ),
    _report(
        "analytics_comparison",
        "GET",
        f"{_REPORTS}/comparison",
        "Two periods' funnels compared, with a two-proportion significance test deciding the trend.",
    ),
    _report(
        "analytics_heatmap",
        "GET",
        f"{_REPORTS}/drop-off-heatmap",
        "Where and when users stop: per day or hour and step, reasons, error codes, stall times.",
    ),
    _report(
        "analytics_cohorts",
        "GET",
        f"{_REPORTS}/cohort-comparison",
        "Weekly enrolment cohorts and first-time against returning users, with insights in words.",
    ),
    _report(
        "analytics_realtime",
        "GET",
        f"{_REPORTS}/realtime",
        "The users who entered in the last 24 hours and what they have done since (cached up to 5 minutes).",
    ),
    _report(
        "analytics_recommendations",
        "GET",
        f"{_REPORTS}/recommendations",
        "Rule-based recommendations from a funnel's own figures, by priority.",
    ),
)
