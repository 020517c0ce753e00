"""Queues: every work queue has a dead-letter queue, and every dead-letter queue has an alarm."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

# The longest SQS keeps a message: failed work stays available for inspection and redrive for two weeks.
DEAD_LETTER_RETENTION = Duration.days(14)
# AWS's advice for a queue feeding Lambda: at least six times the function timeout, so a message is not
# handed to a second consumer while the first one (and the poller's retries) may still be working on it.
VISIBILITY_TIMEOUT_MULTIPLIER = 6
# A message is tried this many times at least before it is dead-lettered: short outages must not lose work.
MIN_MAX_RECEIVE_COUNT = 5


class DeadLetterQueue(Construct):
    """A queue that collects failed work, with an alarm as soon as anything is visible in it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        purpose: str,
        alarm_topic: sns.ITopic,
        redriven_in_stack: bool = False,
    ) -> None:
        """``redriven_in_stack``: a work queue in the same stack names this queue in its redrive policy."""
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            retention_period=DEAD_LETTER_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "VisibleMessages",
            alarm_description=f"Failed work is waiting in the dead-letter queue of {purpose}.",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        self.alarm.add_ok_action(cloudwatch_actions.SnsAction(alarm_topic))
        reason = (
            "This queue is itself the dead-letter queue of "
            f"{purpose}; a further DLQ would only move failed work again. It is alarmed on visible messages."
        )
        acknowledge(self.queue, "Serverless-SQSRedrivePolicy", reason)
        # cfn-lint-serverless ES6000 wants a redrive policy on every queue; its exemption for DLQs does not
        # recognise the deadLetterTargetArn inside a RedrivePolicy object, so DLQs are exempted here.
        cfn_queue = self.queue.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)  # noqa: S101 - the L2 queue always has its L1 child
        cfn_queue.add_metadata("cfn-lint", {"config": {"ignore_checks": ["ES6000"]}})
        if not redriven_in_stack:
            # cdk-nag only recognises a DLQ through a redrive policy in the same stack; this one is fed by a
            # Scheduler DLQ setting, a Lambda on-failure destination or an event source mapping instead.
            acknowledge(
                self.queue,
                "AwsSolutions-SQS3",
                f"This queue is the dead-letter queue of {purpose}, fed by a Scheduler DLQ setting, a Lambda "
                "on-failure destination or an event source mapping, which the rule does not recognise.",
            )


class WorkQueue(Construct):
    """A queue consumed by one function, with its dead-letter queue and that queue's alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        purpose: str,
        consumer_timeout: Duration,
        max_receive_count: int,
        max_batching_window: Duration,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        if max_receive_count < MIN_MAX_RECEIVE_COUNT:
            raise ValueError(f"{purpose}: max_receive_count must be >= {MIN_MAX_RECEIVE_COUNT}")
        self.dead_letter = DeadLetterQueue(
            self, "DeadLetter", purpose=purpose, alarm_topic=alarm_topic, redriven_in_stack=True
        )
        visibility = consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_MULTIPLIER
        self.queue = sqs.Queue(
            self,
            "Queue",
            # The batching window is added because the poller holds messages that long before invoking.
            visibility_timeout=Duration.seconds(visibility + max_batching_window.to_seconds()),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter.queue, max_receive_count=max_receive_count),
        )
