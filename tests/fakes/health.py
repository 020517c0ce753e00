"""In-memory probe results."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta

from firstmile.health.models import Readiness
from firstmile.health.store import PROBE_RETENTION_DAYS
from tests.fakes.faults import Faults
from tests.fakes.storage import stored


class FakeProbeResultStore:
    """``ProbeResults`` in memory: results by day and by the instant they were checked at (the table's sort key,
    the ISO-8601 text of ``checked_at``), each with the expiry the table's TTL would sweep it after."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._days: dict[date, dict[str, tuple[Readiness, datetime]]] = {}
        self._lock = threading.Lock()

    def record(self, readiness: Readiness) -> None:
        self.faults.enter("record")
        at = readiness.checked_at
        with self._lock:
            self._days.setdefault(at.date(), {})[at.isoformat()] = (
                stored(readiness),
                at + timedelta(days=PROBE_RETENTION_DAYS),
            )

    def of_day(self, day: date) -> list[Readiness]:
        self.faults.enter("of_day")
        now = int(time.time())
        with self._lock:
            results = sorted(self._days.get(day, {}).items(), reverse=True)
        return [readiness for _, (readiness, expires) in results if int(expires.timestamp()) > now]
