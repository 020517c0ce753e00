"""The table stream's analytics consumer: counts each onboarding event into the funnel counters, exactly once,
in the shard's order (decision 0070). The mapping passes it only INSERTs of onboarding events.

At the first record it cannot count, the batch stops and answers that record as its one failure: the stream hands
it and what follows again, bisects, and finally keeps the batch whole in the stream-failures bucket. What was
counted before adds nothing a second time (each event's marker is written with its counts).
"""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.observability import logger


def consume(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    outcome = container().funnel_aggregation.consume(records)
    logger.info(
        "stream batch counted",
        extra={
            "counted": outcome.counted,
            "repeated": outcome.repeated,
            "passed_over": outcome.passed_over,
            "failed_at": outcome.failed_at,
        },
    )
    return outcome.batch_item_failures()


lambda_handler = entrypoints.stream_in_order(consume)
