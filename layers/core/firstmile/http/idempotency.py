"""``Idempotency-Key`` for writes a client may retry: a replay returns the first response.

Built on Powertools idempotency, persisted in the main table under the caller's tenant
(``pk = TENANT#<tenant>#IDEMPOTENCY``, ``sk = <function>#<hash>``), expiring via the table's TTL attribute. Powertools'
persistence layer (``IdempotencyRecords``) keeps them in an ``IdempotencyRecordStore``, which reads and writes them
through the table gateway with the attributes and conditions of Powertools' own DynamoDB layer.
The key is scoped to tenant, user and route, so two callers never share a key; the same key with a different
body is refused (``VAL_IDEMPOTENCY_KEY_REUSED``); a key still being processed answers 409 with ``Retry-After``.
Only successful responses are kept: a failed request may be retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from firstmile import errors as e
from firstmile.config import get_settings
from firstmile.http import problems as p
from firstmile.http.auth import auth_from_event
from firstmile.http.headers import header

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_stores: dict[tuple[str, str], IdempotencyRecords] = {}

# Powertools' idempotency package is imported only by a request that carries an Idempotency-Key: the others never
# need it (decision 0045).
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from firstmile.http.idempotency_records import IdempotencyRecords
    from firstmile.http.ports import IdempotencyRecordStorage


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
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    caller = auth_from_event(event.raw_event)
    partition = f"TENANT#{caller.tenant}#IDEMPOTENCY" if caller else "PUBLIC#IDEMPOTENCY"
    scope = f"{caller.subject if caller else '-'} {event.request_context.http.method} {event.path}"
    body_hash = hashlib.sha256((event.body or "").encode()).hexdigest()

    def run(request: dict[str, str]) -> dict[str, Any]:
        response = produce()
        return {
            "status": response.status_code,
            "body": _text(response.body),
            "headers": {k: v for k, v in response.headers.items() if isinstance(v, str)},
            "content_type": response.headers.get("Content-Type", "application/json"),
        }

    store = _store(partition)
    config = _config()
    if app.lambda_context is not None:
        config.register_lambda_context(app.lambda_context)
    guarded = idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)(run)
    # Powertools' errors become problems here, so only functions that use idempotency import its package.
    try:
        stored = guarded(request={"scope": scope, "key": key, "body": body_hash})
    except IdempotencyValidationError:
        raise p.Problem(e.VAL_IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used with another body.") from None
    except IdempotencyAlreadyInProgressError:
        raise p.Problem(
            e.RES_REQUEST_IN_PROGRESS,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        ) from None
    except IdempotencyPersistenceLayerError as failure:
        # Powertools wraps what the records' store raised: a table that failed is the domain's 503, not a defect.
        if isinstance(failure.__cause__, e.DomainError):
            raise failure.__cause__ from None
        raise
    headers = {k: v for k, v in stored["headers"].items() if k.lower() != "content-type"}
    return Response(
        status_code=int(stored["status"]),
        content_type=stored["content_type"],
        body=_data(stored["body"], stored["content_type"]),
        headers=headers,
    )


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


def _mark_replay(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "headers": {**response.get("headers", {}), REPLAYED_HEADER: "true"}}


def _config() -> IdempotencyConfig:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[scope, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
        hash_function="sha256",
        response_hook=_mark_replay,
    )


def _store(partition: str) -> IdempotencyRecords:
    # One store per tenant partition: Powertools keeps its configuration (the function, the key paths) on the store.
    from firstmile.http.idempotency_records import IdempotencyRecords

    table_name = get_settings().table_name
    if (table_name, partition) not in _stores:
        _stores[(table_name, partition)] = IdempotencyRecords(partition, lambda: _record_storage(table_name))
    return _stores[(table_name, partition)]


def _record_storage(table_name: str) -> IdempotencyRecordStorage:
    """The records of the table ``table_name``, over the current low-level client (no boto3 resource layer)."""
    from firstmile.http.idempotency_store import IdempotencyRecordStore
    from firstmile.platform import aws
    from firstmile.platform.gateway import TableGateway

    return IdempotencyRecordStore(TableGateway.over_client(aws.dynamodb(), table_name))
