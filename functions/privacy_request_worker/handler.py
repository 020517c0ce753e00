"""The privacy request queue's consumer: each message names an approved request, carried out by
``RequestProcessor``: an export package, or an erasure taken step by step. A failure returns the message to the
queue; a redelivery resumes after the last step recorded; after five receives it goes to the dead-letter queue.
"""

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from firstmile import entrypoints
from firstmile.composition import container


def carry_out(record: SQSRecord) -> None:
    message = json.loads(record.body)
    container().request_processor.process(str(message["tenant"]), str(message["request_id"]))


lambda_handler = entrypoints.sqs_batch(carry_out)
