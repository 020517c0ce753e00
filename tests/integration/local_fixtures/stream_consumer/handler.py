"""Consumes table changes; items carry ``journal`` (a file path) and may carry ``fail`` (true fails the record).

Every attempt is appended to the journal: event name, sequence number, keys, images and the outcome.
"""

import json
from typing import Any

from firstmile import entrypoints


def record_change(record: Any) -> None:
    raw = record.raw_event["dynamodb"]
    image = raw.get("NewImage") or raw.get("OldImage") or {}
    if "journal" not in image:
        return  # a change the tests did not make (the stack's own items, such as a failure record): not journalled
    failing = image.get("fail", {}).get("BOOL", False)
    entry = {
        "event": record.raw_event["eventName"],
        "sequence": raw["SequenceNumber"],
        "keys": raw["Keys"],
        "new": raw.get("NewImage"),
        "old": raw.get("OldImage"),
        "source": record.raw_event["eventSourceARN"],
        "outcome": "failed" if failing else "done",
    }
    with open(image["journal"]["S"], "a", encoding="utf-8") as journal:
        journal.write(json.dumps(entry) + "\n")
    if failing:
        raise ValueError("this change fails on purpose")


lambda_handler = entrypoints.stream_batch(record_change)
