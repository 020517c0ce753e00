"""In-memory failure records."""

from __future__ import annotations

import threading

from firstmile.failures.models import Failure, FailureRecord
from tests.fakes.faults import Faults


class FakeFailureStore:
    """``FailureStorePort`` in memory."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._records: dict[tuple[str, str], FailureRecord] = {}
        self._lock = threading.Lock()

    def record(self, failure: Failure) -> None:
        self.faults.enter("record")
        with self._lock:
            key = (failure.source, failure.message_id)
            before = self._records.get(key)
            self._records[key] = FailureRecord(
                task=failure.task,
                source=failure.source,
                message_id=failure.message_id,
                exception_type=failure.exception_type,
                message=failure.message,
                traceback=failure.traceback,
                attempts=max(failure.attempt, before.attempts if before else 0),
                first_failed_at=before.first_failed_at if before else failure.at,
                last_failed_at=failure.at,
                payload=failure.payload,
                tenant=failure.tenant or (before.tenant if before else None),
            )

    def get(self, source: str, message_id: str) -> FailureRecord | None:
        self.faults.enter("get")
        with self._lock:
            return self._records.get((source, message_id))
