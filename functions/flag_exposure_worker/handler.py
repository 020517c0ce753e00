"""The exposure queue's consumer: each message is one sampled evaluation's exposures, counted per flag, day and
variant, once however often SQS delivers it. A record that fails returns to the queue alone (partial batch failure),
then goes to the dead-letter queue.
"""

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from firstmile import entrypoints
from firstmile.composition import container


def count_record(record: SQSRecord) -> None:
    container().exposures.record(json.loads(record.body), record.message_id)


lambda_handler = entrypoints.sqs_batch(count_record)
