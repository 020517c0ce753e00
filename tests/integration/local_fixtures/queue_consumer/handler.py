"""Consumes messages like ``{"id": ..., "fail": bool, "journal": path}``; fails those that say so.

Every attempt is appended to the message's journal file, so a test can see what the consumer received.
"""

import json
from typing import Any

from firstmile import entrypoints


def record_message(record: Any) -> None:
    body = json.loads(record.body)
    outcome = "failed" if body.get("fail") else "done"
    with open(body["journal"], "a", encoding="utf-8") as journal:
        entry = {"id": body["id"], "outcome": outcome, "receive_count": record.attributes.approximate_receive_count}
        journal.write(json.dumps(entry) + "\n")
    if body.get("fail"):
        raise ValueError(f"message {body['id']} fails on purpose")


lambda_handler = entrypoints.sqs_batch(record_message)
