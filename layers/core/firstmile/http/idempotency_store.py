"""Idempotency records in the main table, read and written through the table gateway.

Key format (see docs/data-model.md, row 4): ``pk = <partition>`` (``TENANT#<tenant>#IDEMPOTENCY``, chosen by
``firstmile.http.idempotency``), ``sk = <Powertools' idempotency key>``, with ``status``, ``expires_at`` (epoch
seconds, the table's TTL), ``in_progress_expiration`` (epoch milliseconds), ``data`` (the stored response) and
``validation`` (the payload's hash): the attributes Powertools' own DynamoDB layer writes, under the same conditions,
so records written by either read the same.

Nothing of Powertools is imported here; ``firstmile.http.idempotency`` runs the protocol over these records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firstmile.http.ports import IN_PROGRESS, IdempotencyRecord, KeyHeld
from firstmile.platform.gateway import TableGateway

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_EXPIRY = "expires_at"
_IN_PROGRESS_EXPIRY = "in_progress_expiration"
_STATUS = "status"
_DATA = "data"
_VALIDATION = "validation"


class IdempotencyRecordStore:
    """Idempotency records of the main table, one item per partition and key."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def get(self, partition: str, key: str) -> IdempotencyRecord | None:
        """The record at ``key`` of ``partition`` (one consistent ``GetItem``), or ``None``."""
        item = self._table.get({"pk": partition, "sk": key})
        return None if item is None else _record(item)

    def put_unless_live(self, record: IdempotencyRecord, *, now: float) -> KeyHeld | None:
        """Write ``record`` unless a live record holds its key (one conditional ``PutItem``, the stored item
        returned with a refusal)."""
        item: dict[str, Any] = {
            "pk": record.partition,
            "sk": record.key,
            "kind": "idempotency_record",
            _EXPIRY: record.expires_at,
            _STATUS: record.status,
        }
        if record.in_progress_expires_at is not None:
            item[_IN_PROGRESS_EXPIRY] = record.in_progress_expires_at
        if record.validation is not None:
            item[_VALIDATION] = record.validation
        # A record may be taken over when it is absent or no longer holds its key (``IdempotencyRecord.holds_key``:
        # expired, or in progress past its in-progress expiry, the function that wrote it having timed out).
        refusal = self._table.put_if(
            item,
            "attribute_not_exists(#id) OR #expiry < :now OR "
            "(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_ms)",
            names={
                "#id": "pk",
                "#expiry": _EXPIRY,
                "#in_progress_expiry": _IN_PROGRESS_EXPIRY,
                "#status": _STATUS,
            },
            values={":now": int(now), ":now_ms": int(now * 1000), ":inprogress": IN_PROGRESS},
        )
        if refusal is None:
            return None
        return KeyHeld(stored=None if refusal.stored is None else _record(refusal.stored))

    def update(self, record: IdempotencyRecord) -> None:
        """Set the record's status, expiry, data and (when it has one) validation hash (one ``UpdateItem``)."""
        names = {"#response_data": _DATA, "#expiry": _EXPIRY, "#status": _STATUS}
        values: dict[str, Any] = {
            ":response_data": record.data,
            ":expiry": record.expires_at,
            ":status": record.status,
        }
        update = "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
        if record.validation is not None:
            update += ", #validation_key = :validation_key"
            names["#validation_key"] = _VALIDATION
            values[":validation_key"] = record.validation
        self._table.update_if({"pk": record.partition, "sk": record.key}, update, names=names, values=values)

    def delete(self, partition: str, key: str) -> None:
        """Remove the record at ``key`` of ``partition`` (one ``DeleteItem``)."""
        self._table.delete({"pk": partition, "sk": key})


def _record(item: dict[str, Any]) -> IdempotencyRecord:
    in_progress = item.get(_IN_PROGRESS_EXPIRY)
    return IdempotencyRecord(
        partition=item["pk"],
        key=item["sk"],
        status=item[_STATUS],
        expires_at=int(item[_EXPIRY]),
        in_progress_expires_at=None if in_progress is None else int(in_progress),
        data=item.get(_DATA),
        validation=item.get(_VALIDATION),
    )
