"""The drop queue's consumer: each message names idle users of one tenant, dropped unless they came back.

A record that fails returns to the queue alone (partial batch failure), is retried, then dead-lettered; a message
delivered twice drops nobody twice (a dropped user is left as they are).
"""

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from firstmile import entrypoints
from firstmile.composition import container


def drop_record(record: SQSRecord) -> None:
    container().idle_users.drop(json.loads(record.body))


lambda_handler = entrypoints.sqs_batch(drop_record)
