"""A scheduled job that always fails, to exercise the scheduler's retries and dead-letter queue."""

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError(f"scheduled run {event['id']} fails on purpose")
