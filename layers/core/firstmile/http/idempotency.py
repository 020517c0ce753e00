"""``Idempotency-Key`` for writes a client may retry: a replay returns the first response.

Built on Powertools idempotency, persisted in the main table under the caller's tenant
(``pk = TENANT#<tenant>#IDEMPOTENCY``, ``sk = <function>#<hash>``), expiring via the table's TTL attribute. The
records are read and written through the table gateway (``IdempotencyRecords``), with the attributes and conditions of
Powertools' own DynamoDB layer.
The key is scoped to tenant, user and route, so two callers never share a key; the same key with a different
body is refused (``VAL_IDEMPOTENCY_KEY_REUSED``); a key still being processed answers 409 with ``Retry-After``.
Only successful responses are kept: a failed request may be retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

from firstmile import errors as e
from firstmile.config import get_settings
from firstmile.http import problems as p
from firstmile.http.auth import auth_from_event
from firstmile.http.headers import header
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_stores: dict[tuple[str, str], IdempotencyRecords] = {}


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
    table_name = get_settings().table_name
    if (table_name, partition) not in _stores:
        _stores[(table_name, partition)] = IdempotencyRecords(table_name, partition)
    return _stores[(table_name, partition)]


class IdempotencyRecords(BasePersistenceLayer):
    """Powertools' idempotency records of one partition of the main table, through the table gateway.

    Each record is ``pk = <partition>``, ``sk = <Powertools' idempotency key>`` with ``status``, ``expires_at``
    (epoch seconds, the table's TTL), ``in_progress_expiration`` (epoch milliseconds), ``data`` (the stored response)
    and ``validation`` (the payload's hash): the attributes Powertools' DynamoDB layer writes, under the same
    conditions, so records written by either read the same."""

    _EXPIRY = "expires_at"
    _IN_PROGRESS_EXPIRY = "in_progress_expiration"
    _STATUS = "status"
    _DATA = "data"
    _VALIDATION = "validation"

    def __init__(self, table_name: str, partition: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._table_name = table_name
        self._partition = partition

    @property
    def _table(self) -> TableGateway:
        return TableGateway(aws.table(self._table_name))

    def _key(self, idempotency_key: str) -> dict[str, str]:
        return {"pk": self._partition, "sk": idempotency_key}

    def _record(self, item: dict[str, Any]) -> DataRecord:
        # Absent attributes stay None, as Powertools' own layer reads them.
        response: Any = item.get(self._DATA)
        payload_hash: Any = item.get(self._VALIDATION)
        return DataRecord(
            idempotency_key=item["pk"],
            status=item[self._STATUS],
            expiry_timestamp=item[self._EXPIRY],
            in_progress_expiry_timestamp=item.get(self._IN_PROGRESS_EXPIRY),
            response_data=response,
            payload_hash=payload_hash,
            sort_key=item["sk"],
        )

    def _get_record(self, idempotency_key: str) -> DataRecord:
        item = self._table.get(self._key(idempotency_key))
        if item is None:
            raise IdempotencyItemNotFoundError
        return self._record(item)

    def _put_record(self, data_record: DataRecord) -> None:
        item: dict[str, Any] = {
            **self._key(data_record.idempotency_key),
            self._EXPIRY: data_record.expiry_timestamp,
            self._STATUS: data_record.status,
        }
        if data_record.in_progress_expiry_timestamp is not None:
            item[self._IN_PROGRESS_EXPIRY] = data_record.in_progress_expiry_timestamp
        if self.payload_validation_enabled and data_record.payload_hash:
            item[self._VALIDATION] = data_record.payload_hash
        now = datetime.now()
        # A record may be taken over when it is absent, expired, or in progress past its in-progress expiry (the
        # function that wrote it timed out).
        refusal = self._table.put_if(
            item,
            "attribute_not_exists(#id) OR #expiry < :now OR "
            "(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_ms)",
            names={
                "#id": "pk",
                "#expiry": self._EXPIRY,
                "#in_progress_expiry": self._IN_PROGRESS_EXPIRY,
                "#status": self._STATUS,
            },
            values={
                ":now": int(now.timestamp()),
                ":now_ms": int(now.timestamp() * 1000),
                ":inprogress": STATUS_CONSTANTS["INPROGRESS"],
            },
        )
        if refusal is None:
            return
        if refusal.stored is None:
            raise IdempotencyItemAlreadyExistsError()
        stored = self._record(refusal.stored)
        self._validate_payload(data_payload=data_record, stored_data_record=stored)
        self._save_to_cache(data_record=stored)
        raise IdempotencyItemAlreadyExistsError(old_data_record=stored)

    def _update_record(self, data_record: DataRecord) -> None:
        names = {"#response_data": self._DATA, "#expiry": self._EXPIRY, "#status": self._STATUS}
        values: dict[str, Any] = {
            ":response_data": data_record.response_data,
            ":expiry": data_record.expiry_timestamp,
            ":status": data_record.status,
        }
        update = "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
        if self.payload_validation_enabled:
            update += ", #validation_key = :validation_key"
            names["#validation_key"] = self._VALIDATION
            values[":validation_key"] = data_record.payload_hash
        self._table.update_if(self._key(data_record.idempotency_key), update, names=names, values=values)

    def _delete_record(self, data_record: DataRecord) -> None:
        self._table.delete(self._key(data_record.idempotency_key))
