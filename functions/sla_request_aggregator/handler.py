"""The log subscription on every route function: their request records, added to per-route tallies by minute, hour
and day (decision 0101). A failed delivery is retried by Lambda, then dead-lettered as a task; the delivery's log
event ids make its token, so a retried delivery is counted once."""

import hashlib
from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.sla.requests import decode_subscription
from firstmile.sla.tallies import tally_samples


def aggregate(event: dict[str, Any]) -> dict[str, Any]:
    batch = decode_subscription(event)
    if batch.control or not batch.samples:
        return {"records": 0, "control": batch.control}
    token = hashlib.sha256("\n".join(batch.event_ids).encode()).hexdigest()
    tallies = tally_samples(batch.samples)
    container().request_tallies.add(tallies, token=token)
    return {"records": len(batch.samples), "tallies": len(tallies)}


lambda_handler = entrypoints.job(aggregate)
