"""Analytics: the funnel counters kept from the table's change stream (decision 0070)."""

from __future__ import annotations

from functools import partial

from firstmile.onboarding import EVENT_KIND
from functions.catalog.model import Access, Function, Schedule, TableStream, http_function

STACK = "analytics"

_report = partial(http_function, domain="analytics", stack=STACK, role="admin", table="read")
_admin = partial(http_function, domain="analytics", stack=STACK, role="admin", table="write")
_admin_read = partial(http_function, domain="analytics", stack=STACK, role="admin", table="read")
_REPORTS = "/v1/onboarding/analytics"
_RULES = "/v1/admin/onboarding/analytics/alert-rules"

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
        description="Writes onboarding's transition events to the S3 archive as gzipped JSON lines, batched; events of "
        "erased users (their tombstones, read per batch) are left out.",
        # Up to 1,000 events or a minute's worth: objects of many events each, never one per event.
        trigger=TableStream(
            batch_size=1000, retry_attempts=5, max_batching_window_seconds=60, inserts_of=(EVENT_KIND,)
        ),
        timeout_seconds=120,
        memory_mb=512,
        # The table: the tombstones of erased users, one BatchGetItem per batch (decision 0083).
        access=Access(table="read", archive_bucket="write"),
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
    _admin_read(
        "analytics_alert_rules_list",
        "GET",
        _RULES,
        "The tenant's drop-off alert rules with what their last check found, and how many fire now.",
    ),
    _admin("analytics_alert_rule_create", "POST", _RULES, "Creates a drop-off alert rule as version 1 (audited)."),
    _admin_read(
        "analytics_alert_rule_get", "GET", f"{_RULES}/{{rule_id}}", "A drop-off alert rule and its last check."
    ),
    _admin(
        "analytics_alert_rule_update",
        "PUT",
        f"{_RULES}/{{rule_id}}",
        "Replaces a drop-off alert rule as its next version, with If-Match (audited).",
    ),
    _admin(
        "analytics_alert_rule_archive",
        "DELETE",
        f"{_RULES}/{{rule_id}}",
        "Archives a drop-off alert rule: never checked again, its versions and alerts kept (audited).",
    ),
    _admin_read(
        "analytics_alert_rule_history",
        "GET",
        f"{_RULES}/{{rule_id}}/history",
        "Every version of a drop-off alert rule, newest first, with its diff.",
    ),
    _admin_read(
        "analytics_alerts_list",
        "GET",
        "/v1/admin/onboarding/analytics/alerts",
        "The tenant's drop-off alerts, newest first, and the rules firing now.",
    ),
    Function(
        name="analytics_alert_job",
        domain="analytics",
        stack=STACK,
        description="Hourly: judges every enabled drop-off alert rule; a change of state writes an alert.",
        trigger=Schedule("cron(5 * * * ? *)"),
        timeout_seconds=300,
        reserved_concurrency=1,
        access=Access(table="write"),
    ),
)
