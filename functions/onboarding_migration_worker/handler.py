"""The migration queue's consumer: each message lists one page of a migration's users or migrates one batch.

A record that fails returns to the queue alone (partial batch failure) and is retried, then dead-lettered; the
service counts each page and batch once, so a redelivered message changes nothing.
"""

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from firstmile import entrypoints
from firstmile.composition import container


def migrate_record(record: SQSRecord) -> None:
    """One migration message: its body is the JSON the service enqueued."""
    container().migrations.handle_migration_message(json.loads(record.body))


lambda_handler = entrypoints.sqs_batch(migrate_record)
