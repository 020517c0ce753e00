"""FirstmileData: state and plumbing every domain shares (table, buckets, queues, signing keys, alarms)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from firstmile.platform.resources import ARCHIVE_BUCKET, BUCKETS, SCHEDULER_DLQ, dead_letter_queue_name
from firstmile.platform.table import MAIN_TABLE
from functions.catalog import Function, Queue
from infra.constructs.alarms import ApplicationAlarms
from infra.constructs.archive import EventArchiveTable
from infra.constructs.buckets import Buckets
from infra.constructs.cursor_key import CursorKeySecret
from infra.constructs.objectives import ObjectiveAlarms
from infra.constructs.queues import DeadLetterQueue, WorkQueue
from infra.constructs.signing_keys import SigningKeysSecret
from infra.constructs.table import MainTable
from infra.platform import cursor_key_secret_name, publish_data, signing_keys_secret_name
from infra.settings import DeploymentSettings


class DataStack(Stack):
    """The table, buckets, every queue (with DLQs and alarms), the signing-keys secret, the application alarms and
    the SNS topic every alarm notifies."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalog: tuple[Function, ...],
        settings: DeploymentSettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name=f"Firstmile {settings.stage} alarms", enforce_ssl=True
        )
        self.table = MainTable(self, "MainTable", definition=MAIN_TABLE, recovery_days=settings.pitr_days).table
        self.buckets = Buckets(self, "Buckets", definitions=BUCKETS, stage=settings.stage)
        self.archive = EventArchiveTable(
            self, "EventArchive", stage=settings.stage, bucket=self.buckets.by_field[ARCHIVE_BUCKET.settings_field]
        )
        self.queues: dict[str, sqs.IQueue] = {
            SCHEDULER_DLQ: DeadLetterQueue(
                self, "SchedulerDeadLetter", purpose="scheduled jobs", alarm_topic=self.alarm_topic
            ).queue
        }
        # Queues live here, not with their consumers, so producers in any domain stack can use them
        # without the domain stacks depending on each other.
        for function in catalog:
            if isinstance(function.trigger, Queue):
                self._add_work_queue(function, function.trigger)
        self.signing_keys = SigningKeysSecret(
            self, "SigningKeys", name=signing_keys_secret_name(settings), stage=settings.stage
        )
        self.cursor_key = CursorKeySecret(
            self, "CursorKey", name=cursor_key_secret_name(settings), stage=settings.stage
        )
        self.alarms = ApplicationAlarms(self, "ApplicationAlarms", stage=settings.stage, alarm_topic=self.alarm_topic)
        self.objectives = ObjectiveAlarms(self, "Objectives", stage=settings.stage, alarm_topic=self.alarm_topic)
        publish_data(
            self,
            settings,
            table=self.table,
            buckets=dict(self.buckets.by_field),
            bucket_keys=dict(self.buckets.keys),
            queues=self.queues,
            alarm_topic=self.alarm_topic,
            signing_keys=self.signing_keys.reference,
        )

    def _add_work_queue(self, consumer: Function, trigger: Queue) -> None:
        if trigger.name in self.queues:
            raise ValueError(f"queue {trigger.name!r} has more than one consumer in the catalogue")
        work = WorkQueue(
            self,
            "".join(part.capitalize() for part in trigger.name.replace("_", "-").split("-")) + "Queue",
            purpose=f"the {trigger.name} queue",
            consumer_timeout=Duration.seconds(consumer.timeout_seconds),
            max_receive_count=trigger.max_receive_count,
            max_batching_window=Duration.seconds(trigger.max_batching_window_seconds),
            alarm_topic=self.alarm_topic,
        )
        self.queues[trigger.name] = work.queue
        self.queues[dead_letter_queue_name(trigger.name)] = work.dead_letter.queue
