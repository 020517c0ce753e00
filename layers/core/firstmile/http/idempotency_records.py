"""Powertools' persistence layer for the idempotency records, over their storage (``IdempotencyRecordStorage``).

Imported only when a request carries an ``Idempotency-Key`` (``firstmile.http.idempotency``), so the other requests
never load Powertools' idempotency package.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from firstmile.http.ports import IdempotencyRecord, IdempotencyRecordStorage


class IdempotencyRecords(BasePersistenceLayer):
    """Powertools' idempotency records of one partition, kept by an ``IdempotencyRecordStorage``.

    Powertools hands this layer its ``DataRecord``; each becomes an ``IdempotencyRecord`` of the partition, keyed by
    Powertools' idempotency key, and a stored one is handed back as Powertools' own DynamoDB layer reads it (its
    ``idempotency_key`` the partition, its ``sort_key`` the key). ``storage`` is asked for the storage at each use,
    so a container whose AWS clients were made again (after a fork, or a test's reset) uses its own."""

    def __init__(self, partition: str, storage: Callable[[], IdempotencyRecordStorage]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._partition = partition
        self._storage = storage

    def _record(self, stored: IdempotencyRecord) -> DataRecord:
        # Absent attributes stay None, as Powertools' own layer reads them.
        response: Any = stored.data
        payload_hash: Any = stored.validation
        return DataRecord(
            idempotency_key=stored.partition,
            status=stored.status,
            expiry_timestamp=stored.expires_at,
            in_progress_expiry_timestamp=stored.in_progress_expires_at,
            response_data=response,
            payload_hash=payload_hash,
            sort_key=stored.key,
        )

    def _get_record(self, idempotency_key: str) -> DataRecord:
        stored = self._storage().get(self._partition, idempotency_key)
        if stored is None:
            raise IdempotencyItemNotFoundError
        return self._record(stored)

    def _put_record(self, data_record: DataRecord) -> None:
        validation = data_record.payload_hash if self.payload_validation_enabled and data_record.payload_hash else None
        record = IdempotencyRecord(
            partition=self._partition,
            key=data_record.idempotency_key,
            status=data_record.status,
            # Powertools gives every record it saves an expiry.
            expires_at=data_record.expiry_timestamp,  # type: ignore[arg-type]
            in_progress_expires_at=data_record.in_progress_expiry_timestamp,
            validation=validation,
        )
        held = self._storage().put_unless_live(record, now=time.time())
        if held is None:
            return
        if held.stored is None:
            raise IdempotencyItemAlreadyExistsError()
        stored = self._record(held.stored)
        self._validate_payload(data_payload=data_record, stored_data_record=stored)
        self._save_to_cache(data_record=stored)
        raise IdempotencyItemAlreadyExistsError(old_data_record=stored)

    def _update_record(self, data_record: DataRecord) -> None:
        self._storage().update(
            IdempotencyRecord(
                partition=self._partition,
                key=data_record.idempotency_key,
                status=data_record.status,
                expires_at=data_record.expiry_timestamp,  # type: ignore[arg-type]
                data=data_record.response_data,
                validation=data_record.payload_hash if self.payload_validation_enabled else None,
            )
        )

    def _delete_record(self, data_record: DataRecord) -> None:
        self._storage().delete(self._partition, data_record.idempotency_key)
