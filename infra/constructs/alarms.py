"""Alarms on the application's own metrics (Powertools EMF, namespace ``Firstmile``), each with its runbook.

Powertools' ``Metrics(service="firstmile")`` publishes every metric with the one dimension ``service`` (the
``function_name`` dimension is added to the ``ColdStart`` metric only), so an alarm names that dimension and sees
the metric from every function that emits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from firstmile.analytics.signals import DROP_OFF_ALERT_METRIC
from firstmile.backups.service import RESTORE_DRILL_FAILED_METRIC, RESTORE_OVER_RTO_METRIC
from firstmile.failures.collector import DEAD_LETTER_TASKS_METRIC
from firstmile.flags.signals import EXPOSURES_DROPPED_METRIC, ROLLOUT_HALTED_METRIC
from firstmile.identity.sessions import REUSE_METRIC
from firstmile.observability import METRICS_NAMESPACE, SERVICE
from firstmile.privacy.signals import OVERDUE_METRIC


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm when a count metric reaches ``threshold`` within ``period_minutes``."""

    key: str
    metric_name: str
    threshold: int
    period_minutes: int
    description: str
    runbook: str


APPLICATION_ALARMS: tuple[MetricAlarm, ...] = (
    MetricAlarm(
        key="refresh-token-reuse",
        metric_name=REUSE_METRIC,
        threshold=1,
        period_minutes=5,
        description=(
            "A refresh token was presented again after it had been rotated (possible theft); its session was revoked."
        ),
        runbook="docs/runbooks/refresh-token-reuse.md",
    ),
    MetricAlarm(
        key="flag-rollout-halted",
        metric_name=ROLLOUT_HALTED_METRIC,
        threshold=1,
        period_minutes=5,
        description=(
            "A progressive rollout's guard saw users in the rollout convert worse than users out of it; the plan "
            "halted and the rule's percentage was rolled back."
        ),
        runbook="docs/runbooks/flag-rollout-halted.md",
    ),
    MetricAlarm(
        key="flag-exposures-dropped",
        metric_name=EXPOSURES_DROPPED_METRIC,
        threshold=100,
        period_minutes=15,
        description="The exposure queue refused sampled exposure events; exposure counts are low until it recovers.",
        runbook="docs/runbooks/flag-exposures-dropped.md",
    ),
    MetricAlarm(
        key="onboarding-drop-off-alert",
        metric_name=DROP_OFF_ALERT_METRIC,
        threshold=1,
        period_minutes=60,
        description=(
            "A tenant's drop-off alert rule started firing: a flow's conversion fell under its threshold or dropped "
            "against the week before. GET /v1/admin/onboarding/analytics/alerts says which and why."
        ),
        runbook="docs/runbooks/onboarding-drop-off-alert.md",
    ),
    MetricAlarm(
        key="privacy-requests-overdue",
        metric_name=OVERDUE_METRIC,
        threshold=1,
        period_minutes=24 * 60,
        description=(
            "A data subject request is still open past its 30-day legal deadline (Article 12(3) GDPR). "
            "GET /v1/admin/dsr/requests?overdue=true in the tenant says which."
        ),
        runbook="docs/runbooks/privacy-requests-overdue.md",
    ),
    MetricAlarm(
        key="dead-letter-tasks-waiting",
        metric_name=DEAD_LETTER_TASKS_METRIC,
        threshold=1,
        period_minutes=5,
        description=(
            "Failed work is waiting as dead-letter tasks (the collector counts them every minute). "
            "GET /v1/admin/dlq/stats says which functions and exceptions; retry, redrive or delete them."
        ),
        runbook="docs/runbooks/dead-letter-tasks.md",
    ),
    MetricAlarm(
        key="restore-drill-over-rto",
        metric_name=RESTORE_OVER_RTO_METRIC,
        threshold=1,
        period_minutes=24 * 60,
        description=(
            "The weekly restore drill's restore took longer than the 15-minute recovery time objective. "
            "GET /v1/operator/backups/drills says how long."
        ),
        runbook="docs/runbooks/restore.md",
    ),
    MetricAlarm(
        key="restore-drill-failed",
        metric_name=RESTORE_DRILL_FAILED_METRIC,
        threshold=1,
        period_minutes=24 * 60,
        description=(
            "The weekly restore drill failed: a restore did not finish, was too slow, or the backup's copy differs "
            "from the table as of the backup. GET /v1/operator/backups/drills says which item kinds differ."
        ),
        runbook="docs/runbooks/restore.md",
    ),
)


class ApplicationAlarms(Construct):
    """One CloudWatch alarm per :data:`APPLICATION_ALARMS` entry, notifying ``alarm_topic`` on alarm and on recovery."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        alarm_topic: sns.ITopic,
        definitions: tuple[MetricAlarm, ...] = APPLICATION_ALARMS,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for definition in definitions:
            alarm = cloudwatch.Alarm(
                self,
                "".join(part.capitalize() for part in definition.key.split("-")),
                # Named, so the notification says what happened without a lookup.
                alarm_name=f"firstmile-{stage}-{definition.key}",
                alarm_description=f"{definition.description} Runbook: {definition.runbook}",
                metric=cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=definition.metric_name,
                    dimensions_map={"service": SERVICE},
                    statistic=cloudwatch.Stats.SUM,
                    period=Duration.minutes(definition.period_minutes),
                ),
                threshold=definition.threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                # The metric is only emitted when the event happens: no data means nothing happened.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
            alarm.add_ok_action(cloudwatch_actions.SnsAction(alarm_topic))
            self.alarms[definition.key] = alarm
