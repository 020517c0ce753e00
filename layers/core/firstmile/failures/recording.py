"""Recording a consumer's failure where it happens (decision 0090): the entry points call ``record_failure`` for a
queue message or a scheduled run that raised, before the error goes on to SQS (or the scheduler) as it did. A
failure to record is logged and never hides the failure itself."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from firstmile.failures.models import MAX_TEXT, Failure
from firstmile.observability import logger, redact
from firstmile.platform.resources import function_name


def failure_of(
    task: str, source: str, message_id: str, error: BaseException, body: Any, attempt: int, at: datetime
) -> Failure:
    """The record of one failed attempt: texts and payload redacted, long texts cut to their end."""
    payload = _payload(body)
    text = "".join(traceback.format_exception(error))
    tenant = payload.get("tenant") if isinstance(payload, dict) else None
    return Failure(
        task=task,
        source=source,
        message_id=message_id,
        exception_type=type(error).__name__,
        message=str(redact(str(error)))[-MAX_TEXT:],
        traceback=str(redact(text))[-MAX_TEXT:],
        attempt=max(1, attempt),
        at=at,
        payload=redact(payload),
        tenant=str(tenant) if isinstance(tenant, str) else None,
    )


def record_failure(
    source: str, message_id: str, error: BaseException, body: Any, attempt: int, *, store: Callable[[Failure], None]
) -> None:
    """Record one failed attempt of this function (``AWS_LAMBDA_FUNCTION_NAME``, by its catalogue name); never
    raises."""
    task = function_name(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "unknown"))
    try:
        store(failure_of(task, source, message_id, error, body, attempt, datetime.now(UTC)))
    except Exception as exc:  # the failure itself must still reach the queue
        logger.warning("failure not recorded", extra={"source": source, "error": type(exc).__name__})


def _payload(body: Any) -> Any:
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body[:MAX_TEXT]
    return body
