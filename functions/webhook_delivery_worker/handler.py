"""The delivery queue's consumer: signs and POSTs each webhook message to its endpoint (decision 0093). A message
its endpoint did not take returns to the queue alone (partial batch failure) and, after five receives, waits in the
dead-letter queue as a task."""

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.webhooks.delivery import message_of


def deliver_record(record: SQSRecord) -> None:
    container().webhook_sender.deliver(message_of(record.body))


lambda_handler = entrypoints.sqs_batch(deliver_record)
