"""``Idempotency-Key`` for writes a client may retry: a replay returns the first response.

The records live in the main table under the caller's tenant (``pk = TENANT#<tenant>#IDEMPOTENCY``,
``sk = <function>#<hash>``), expiring via the table's TTL attribute, read and written by an
``IdempotencyRecordStore`` through the table gateway (``IdempotentRequests`` takes any ``IdempotencyRecordStorage``,
so the unit tests run it on the in-memory fake). The key is scoped to tenant, user and route, so two callers never
share a key; the same key with a different body is refused (``VAL_IDEMPOTENCY_KEY_REUSED``); a key still being
processed answers 409 with ``Retry-After``. Only a request that answers is kept: one that raised (a refusal, a
failure) leaves no record, so it may be retried with the same key.

The records, their keys and hashes are those Powertools' idempotency utility writes (decision 0045): a record
written before this module replaced it reads the same. Powertools' utility is not used any more because it loads
boto3 and its transfer manager into every request that carries an ``Idempotency-Key``, and wraps the table's
failures into errors of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from firstmile import errors as e
from firstmile.config import get_settings
from firstmile.http import problems as p
from firstmile.http.auth import auth_from_event
from firstmile.http.headers import header
from firstmile.http.ports import COMPLETED, IN_PROGRESS, IdempotencyRecord

if TYPE_CHECKING:
    from firstmile.http.ports import IdempotencyRecordStorage

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# What Powertools named the guarded function in its keys (its qualified name), kept so earlier records still match.
_GUARDED = "idempotent.<locals>.run"


def idempotent(app: APIGatewayHttpResolver, produce: Callable[[], Response[Any]]) -> Response[Any]:
    """Answer with ``produce()``, or with the stored first response when this is a replay of the same request.

    Without an ``Idempotency-Key`` header the request simply runs.
    """
    event = app.current_event
    key = header(event.headers, IDEMPOTENCY_HEADER)
    if key is None:
        return produce()
    if not _KEY.match(key):
        raise p.Problem(e.VAL_IDEMPOTENCY_KEY_INVALID, "Idempotency-Key must be 1-255 visible ASCII characters.")
    caller = auth_from_event(event.raw_event)
    request = IdempotentRequest(
        partition=f"TENANT#{caller.tenant}#IDEMPOTENCY" if caller else "PUBLIC#IDEMPOTENCY",
        scope=f"{caller.subject if caller else '-'} {event.request_context.http.method} {event.path}",
        key=key,
        body_hash=hashlib.sha256((event.body or "").encode()).hexdigest(),
    )
    context = app.lambda_context
    remaining = context.get_remaining_time_in_millis() if context is not None else None

    def run() -> dict[str, Any]:
        response = produce()
        return {
            "status": response.status_code,
            "body": _text(response.body),
            "headers": {k: v for k, v in response.headers.items() if isinstance(v, str)},
            "content_type": response.headers.get("Content-Type", "application/json"),
        }

    requests = IdempotentRequests(_records(), get_settings().idempotency_ttl_seconds)
    stored, replayed = requests.answer(request, run, remaining_millis=remaining)
    headers = {k: v for k, v in stored["headers"].items() if k.lower() != "content-type"}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(
        status_code=int(stored["status"]),
        content_type=stored["content_type"],
        body=_data(stored["body"], stored["content_type"]),
        headers=headers,
    )


@dataclass(frozen=True)
class IdempotentRequest:
    """A request sent with an ``Idempotency-Key``: whose records, its scope (caller, method, path), the key, and
    the hash of its body."""

    partition: str
    scope: str
    key: str
    body_hash: str


class IdempotentRequests:
    """Runs a request once per key: the first runs and its answer is kept; a replay gets the kept answer."""

    def __init__(
        self, storage: IdempotencyRecordStorage, ttl_seconds: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._storage = storage
        self._ttl = ttl_seconds
        self._clock = clock

    def answer(
        self, request: IdempotentRequest, run: Callable[[], dict[str, Any]], *, remaining_millis: int | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The answer of ``request`` and whether it is a replay. ``run`` runs only when no live record holds the
        key; ``remaining_millis`` (the function's time left) bounds how long a record stays in progress, after which
        another delivery may take the key over."""
        record_key = f"{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'test-func')}.{_GUARDED}#" + _hash(
            [request.scope, request.key]
        )
        validation = _hash(request.body_hash)
        for _ in range(2):
            now = self._clock()
            claim = IdempotencyRecord(
                partition=request.partition,
                key=record_key,
                status=IN_PROGRESS,
                expires_at=int(now) + self._ttl,
                in_progress_expires_at=None if remaining_millis is None else int((now * 1000) + remaining_millis),
                validation=validation,
            )
            held = self._storage.put_unless_live(claim, now=now)
            if held is None:
                return self._run(claim, run), False
            stored = held.stored or self._storage.get(request.partition, record_key)
            if stored is None or not stored.holds_key(self._clock()):
                continue  # the record went away, or lapsed, between the write and the read: claim the key again
            if stored.validation is not None and stored.validation != validation:
                raise p.Problem(e.VAL_IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used with another body.")
            if stored.status == COMPLETED and stored.data is not None:
                return json.loads(stored.data), True
            break
        raise p.Problem(
            e.RES_REQUEST_IN_PROGRESS,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        )

    def _run(self, claim: IdempotencyRecord, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            answer = run()
        except BaseException:
            self._storage.delete(claim.partition, claim.key)
            raise
        self._storage.update(
            IdempotencyRecord(
                partition=claim.partition,
                key=claim.key,
                status=COMPLETED,
                expires_at=int(self._clock()) + self._ttl,
                data=json.dumps(answer, sort_keys=True),
                validation=claim.validation,
            )
        )
        return answer


def _hash(data: Any) -> str:
    """SHA-256 of ``data`` as sorted JSON: how Powertools hashed keys and payloads."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _data(text: str, content_type: str) -> Any:
    """A stored JSON body as data again, so the route's response model validates a replay like the first answer."""
    if text and content_type.split(";")[0].strip().endswith("json"):
        return json.loads(text)
    return text


def _text(body: Any) -> str:
    """A response body as the text sent: text as is, bytes decoded, JSON-ready data serialised."""
    if isinstance(body, str):
        return body
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode()
    return "" if body is None else json.dumps(body, separators=(",", ":"), default=str)


def _records() -> IdempotencyRecordStorage:
    """The records in the container's table (the composition root, which sits behind the edge, does not build
    edge parts)."""
    from firstmile.composition import container
    from firstmile.http.idempotency_store import IdempotencyRecordStore

    return IdempotencyRecordStore(container().table)
