"""Powertools' idempotency records of the main table, read and written through the table gateway.

Imported only when a request carries an ``Idempotency-Key`` (``firstmile.http.idempotency``), so the other requests
never load Powertools' idempotency package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway


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
        return TableGateway.over_client(aws.dynamodb(), self._table_name)

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
