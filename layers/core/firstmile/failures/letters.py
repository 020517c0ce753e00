"""Reading dead letters as tasks (decision 0091). Three kinds of letter reach the collector:

- a work queue's message, moved to ``<queue>-dlq`` by the queue's redrive policy: its body and attributes as sent;
- an invocation's failure in the invocation dead-letter queue (``scheduler-dlq``): Lambda's on-failure destination
  record (``requestContext``, ``requestPayload``, ``responsePayload``) for a scheduled run or a retried batch that
  failed, or Scheduler's own dead letter (the event as body; ``ERROR_CODE``, ``ERROR_MESSAGE``, ``TARGET_ARN``
  attributes) for an event it could not deliver;
- a table-stream batch its consumer gave up on, written whole to the stream-failures bucket by Lambda's on-failure
  destination.

Each becomes a ``TaskDraft`` joined with the failure record its consumer wrote (decision 0090); a letter without one
(the consumer timed out or its process died) is drafted from what the letter itself says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from firstmile.failures.models import MAX_TEXT, FailureRecord
from firstmile.failures.tasks import ORIGIN_MESSAGE_ATTRIBUTE, TASK_ID_ATTRIBUTE, TaskDraft, TaskKind, task_id
from firstmile.observability import redact
from firstmile.platform.resources import function_name

FindRecord = Callable[[str, str], FailureRecord | None]
"""The failure record of (source, message id), if the consumer wrote one."""

UNRECORDED = "Unrecorded"
"""The exception type of a task whose consumer recorded nothing: it timed out, or its process ended."""

_UNRECORDED_TEXT = "The consumer recorded no failure: it timed out, ran out of memory or its process ended."
_OWN_ATTRIBUTES = frozenset({TASK_ID_ATTRIBUTE, ORIGIN_MESSAGE_ATTRIBUTE})


def from_queue_message(
    message: Mapping[str, Any], *, queue: str, consumer: str, dead_letter_queue: str, find: FindRecord, now: datetime
) -> TaskDraft:
    """The task of a message the queue ``queue`` moved to its dead-letter queue (as ReceiveMessage gives it, with
    ``All`` system and message attributes)."""
    attributes = _string_attributes(message.get("MessageAttributes") or {})
    system = message.get("Attributes") or {}
    source = f"queue:{queue}"
    origin = attributes.get(ORIGIN_MESSAGE_ATTRIBUTE) or str(message["MessageId"])
    sent = _from_millis(system.get("SentTimestamp"), now)
    body = str(message.get("Body", ""))
    receives = int(str(system.get("ApproximateReceiveCount", "1")) or 1)
    return _draft(
        kind="queue",
        task=consumer,
        source=source,
        origin=origin,
        identity=attributes.get(TASK_ID_ATTRIBUTE) or task_id(sent, source, origin),
        letter=str(message["MessageId"]),
        location=dead_letter_queue,
        record=find(source, origin),
        fallback=(UNRECORDED, _UNRECORDED_TEXT, ""),
        attempts=receives,
        first_sent=sent,
        now=now,
        body=body,
        payload=_parsed(body),
        attributes={k: v for k, v in attributes.items() if k not in _OWN_ATTRIBUTES},
    )


def from_invocation_letter(
    message: Mapping[str, Any], *, dead_letter_queue: str, find: FindRecord, now: datetime
) -> TaskDraft:
    """The task of a letter in the invocation dead-letter queue: Lambda's on-failure record, or Scheduler's."""
    body = str(message.get("Body", ""))
    parsed = _parsed(body)
    attributes = _string_attributes(message.get("MessageAttributes") or {})
    sent = _from_millis((message.get("Attributes") or {}).get("SentTimestamp"), now)
    if isinstance(parsed, dict) and isinstance(parsed.get("requestContext"), dict) and "requestPayload" in parsed:
        context = parsed["requestContext"]
        function = _catalogue_name(str(context.get("functionArn", "")))
        event = parsed.get("requestPayload")
        answer = parsed.get("responsePayload")
        response: dict[str, Any] = answer if isinstance(answer, dict) else {}
        fallback = (
            str(response.get("errorType") or context.get("condition") or UNRECORDED),
            str(response.get("errorMessage") or _UNRECORDED_TEXT),
            "\n".join(str(line) for line in response.get("stackTrace") or []),
        )
        attempts = int(context.get("approximateInvokeCount") or 1)
    else:
        function = _catalogue_name(attributes.get("TARGET_ARN", ""))
        event = parsed
        fallback = (
            attributes.get("ERROR_CODE") or UNRECORDED,
            attributes.get("ERROR_MESSAGE") or "Scheduler could not deliver the event.",
            "",
        )
        attempts = int(attributes.get("RETRY_ATTEMPTS", "0") or 0) + 1
    event = event if isinstance(event, dict) else {"event": event}
    marks = {k: str(event.pop(k)) for k in list(event) if k in _OWN_ATTRIBUTES}
    kind: TaskKind = "stream" if _is_stream_batch(event) else "schedule"
    source = f"{kind}:{function}"
    origin = marks.get(ORIGIN_MESSAGE_ATTRIBUTE) or _event_id(event, kind) or str(message["MessageId"])
    first = _batch_arrival(event) if kind == "stream" else None
    return _draft(
        kind=kind,
        task=function,
        source=source,
        origin=origin,
        identity=marks.get(TASK_ID_ATTRIBUTE) or task_id(first or sent, source, origin),
        letter=str(message["MessageId"]),
        location=dead_letter_queue,
        record=find(source, origin),
        fallback=fallback,
        attempts=attempts,
        first_sent=first or sent,
        now=now,
        body=json.dumps(event, separators=(",", ":")),
        payload=event,
        attributes={},
    )


def from_stream_failure(
    document: Mapping[str, Any], *, key: str, kept_at: str, find: FindRecord, now: datetime
) -> TaskDraft:
    """The task of a table-stream batch kept at ``key`` by Lambda's S3 on-failure destination, moved to
    ``kept_at`` (what a retry reads)."""
    context = document.get("requestContext") or {}
    batch = document.get("DDBStreamBatchInfo") or {}
    function = _catalogue_name(str(context.get("functionArn", "")))
    source = f"stream:{function}"
    origin = str(batch.get("startSequenceNumber") or key)
    first = _iso(batch.get("approximateArrivalOfFirstRecord")) or _iso(document.get("timestamp")) or now
    response = document.get("responseContext") or {}
    fallback = (
        str(response.get("functionError") or context.get("condition") or UNRECORDED),
        f"The batch of {batch.get('batchSize', '?')} records failed {context.get('approximateInvokeCount', '?')} "
        "invocations.",
        "",
    )
    payload = _parsed(str(document.get("payload", "")))
    return _draft(
        kind="stream",
        task=function,
        source=source,
        origin=origin,
        identity=task_id(first, source, origin),
        letter=key,
        location=f"s3:{kept_at}",
        record=find(source, origin),
        fallback=fallback,
        attempts=int(context.get("approximateInvokeCount") or 1),
        first_sent=first,
        now=now,
        body=kept_at,
        payload=payload,
        attributes={},
    )


def _draft(
    *,
    kind: TaskKind,
    task: str,
    source: str,
    origin: str,
    identity: str,
    letter: str,
    location: str,
    record: FailureRecord | None,
    fallback: tuple[str, str, str],
    attempts: int,
    first_sent: datetime,
    now: datetime,
    body: str,
    payload: Any,
    attributes: dict[str, str],
) -> TaskDraft:
    exception, text, trace = fallback
    named = payload.get("tenant") if isinstance(payload, dict) else None
    tenant = named if isinstance(named, str) else None
    # What the consumer recorded, when it did; else what the letter itself says.
    told = (
        {
            "task": record.task,
            "exception_type": record.exception_type,
            "message": record.message,
            "traceback": record.traceback,
            "attempts": max(attempts, record.attempts, 1),
            "first_failed_at": record.first_failed_at,
            "last_failed_at": record.last_failed_at,
            "tenant": record.tenant or tenant,
            "payload": record.payload if record.payload not in (None, "") else redact(payload),
        }
        if record is not None
        else {
            "task": task or "unknown",
            "exception_type": exception[:128],
            "message": str(redact(text))[-MAX_TEXT:],
            "traceback": str(redact(trace))[-MAX_TEXT:],
            "attempts": max(attempts, 1),
            "first_failed_at": first_sent,
            "last_failed_at": now,
            "tenant": tenant,
            "payload": redact(payload),
        }
    )
    return TaskDraft(
        task_id=identity,
        kind=kind,
        source=source,
        message_id=origin,
        letter_id=letter,
        location=location,
        dead_lettered_at=now,
        body=body,
        attributes=attributes,
        failure_recorded=record is not None,
        **told,
    )


def _string_attributes(raw: Mapping[str, Any]) -> dict[str, str]:
    """SQS message attributes (``{name: {DataType, StringValue}}``) as plain strings; binary ones are left out."""
    return {
        name: str(value.get("StringValue"))
        for name, value in raw.items()
        if isinstance(value, Mapping) and value.get("StringValue") is not None
    }


def _parsed(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body[:MAX_TEXT]


def _catalogue_name(arn: str) -> str:
    """The catalogue name of the function an ARN names; empty when it names none."""
    return function_name(arn) if ":function:" in arn else ""


def _is_stream_batch(event: Mapping[str, Any]) -> bool:
    records = event.get("Records")
    return isinstance(records, list) and bool(records) and (records[0] or {}).get("eventSource") == "aws:dynamodb"


def _event_id(event: Mapping[str, Any], kind: TaskKind) -> str | None:
    if kind == "stream":
        first = (event.get("Records") or [{}])[0] or {}
        number = (first.get("dynamodb") or {}).get("SequenceNumber")
        return str(number) if number else None
    identity = event.get("id")
    return str(identity) if identity else None


def _batch_arrival(event: Mapping[str, Any]) -> datetime | None:
    first = (event.get("Records") or [{}])[0] or {}
    moment = (first.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, UTC)
    return None


def _from_millis(raw: Any, default: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(raw)) / 1000, UTC)
    except (TypeError, ValueError):
        return default


def _iso(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
