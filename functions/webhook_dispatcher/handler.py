"""The table stream's webhook consumer: each webhook event (a completed onboarding or step, a flag's change or kill,
a halted rollout, a completed privacy request, a drop-off alert) becomes a message per subscribed endpoint on the
delivery queue (decision 0093). The mapping passes it only inserts of those items' kinds."""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.observability import logger


def dispatch(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    queued = container().webhook_dispatcher.dispatch(records)
    logger.info("webhook events dispatched", extra={"records": len(records), "messages": queued})
    return []


lambda_handler = entrypoints.stream_in_order(dispatch)
