"""In-memory idempotency records."""

from __future__ import annotations

import dataclasses
import threading

from firstmile.http.ports import IdempotencyRecord, KeyHeld
from tests.fakes.faults import Faults


class FakeIdempotencyRecordStore:
    """``IdempotencyRecordStorage`` in memory: records by partition and key, taken over under the table's condition
    (absent, expired, or in progress past its in-progress expiry). ``faults.conflict("put_unless_live")`` makes the
    next write find its key held, as if another request had written it first."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}
        self._lock = threading.Lock()

    def get(self, partition: str, key: str) -> IdempotencyRecord | None:
        self.faults.enter("get")
        return self.records.get((partition, key))

    def put_unless_live(self, record: IdempotencyRecord, *, now: float) -> KeyHeld | None:
        self.faults.enter("put_unless_live")
        at = (record.partition, record.key)
        with self._lock:
            stored = self.records.get(at)
            if self.faults.conflicts("put_unless_live") or (stored is not None and stored.holds_key(now)):
                return KeyHeld(stored=stored)
            # The table writes the whole item: nothing of a record taken over remains.
            self.records[at] = dataclasses.replace(record, data=None)
            return None

    def update(self, record: IdempotencyRecord) -> None:
        self.faults.enter("update")
        at = (record.partition, record.key)
        with self._lock:
            # An update of a key that holds nothing writes only what it sets, as UpdateItem does.
            base = self.records.get(at) or dataclasses.replace(record, in_progress_expires_at=None, validation=None)
            self.records[at] = dataclasses.replace(
                base,
                status=record.status,
                expires_at=record.expires_at,
                data=record.data,
                validation=base.validation if record.validation is None else record.validation,
            )

    def delete(self, partition: str, key: str) -> None:
        self.faults.enter("delete")
        with self._lock:
            self.records.pop((partition, key), None)
