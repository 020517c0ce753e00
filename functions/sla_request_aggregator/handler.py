"""The log subscriptions on every route function and on the API's access log: the functions' request records, and
the answers API Gateway made itself when a function or the authorizer failed, added to per-route tallies by minute,
hour and day (decisions 0101 and 0105). A failed delivery is retried by Lambda, then dead-lettered as a task; the
delivery's log event ids make its token, so a retried delivery is counted once."""

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.sla.requests import decode_subscription, emit
from firstmile.sla.tallies import tally_samples

AUDIENCES = Path(__file__).with_name("route_audiences.json")
"""Every route's audience, written from the catalogue (``functions/catalog/audiences.py``)."""


@functools.cache
def route_audiences() -> dict[str, str]:
    audiences: dict[str, str] = json.loads(AUDIENCES.read_text())
    return audiences


def aggregate(event: dict[str, Any]) -> dict[str, Any]:
    batch = decode_subscription(event, route_audiences().get)
    if batch.control or not batch.samples:
        return {"records": 0, "control": batch.control}
    token = hashlib.sha256("\n".join(batch.event_ids).encode()).hexdigest()
    tallies = tally_samples(batch.samples)
    container().request_tallies.add(tallies, token=token)
    # What API Gateway answered itself has no record of its function's: written here, once the tallies hold it, so
    # CloudWatch's request metrics, and the burn-rate alarms, count it too. A delivery comes at least once; its claim
    # has the records written at most once (a run that dies between the claim and the writing loses them).
    if batch.by_gateway and container().request_tallies.claim(token):
        for sample in batch.by_gateway:
            emit(sample, os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    return {"records": len(batch.samples), "tallies": len(tallies), "answered_by_gateway": len(batch.by_gateway)}


lambda_handler = entrypoints.job(aggregate)
