"""In-memory request tallies."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime

from firstmile.sla.store import by_level
from firstmile.sla.tallies import RETENTION, Level, Tally, TallyKey, TallyRow
from tests.fakes.faults import Faults


class FakeTallyStore:
    """``RequestTallies`` in memory: one tally per level, period and route, and the tokens of the deliveries added
    (the table forgets a transaction's token after ten minutes; a test does not run that long)."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._rows: dict[tuple[Level, datetime, str], tuple[str, Tally]] = {}
        self._tokens: set[str] = set()
        self._claims: set[str] = set()
        self._lock = threading.Lock()

    def add(self, tallies: Mapping[TallyKey, Tally], token: str) -> None:
        self.faults.enter("add")
        with self._lock:
            if token in self._tokens:
                return
            self._tokens.add(token)
            for (level, at, route, audience), tally in by_level(tallies).items():
                kept = self._rows.get((level, at, route))
                self._rows[(level, at, route)] = (audience, kept[1].merge(tally) if kept else tally)

    def claim(self, token: str) -> bool:
        self.faults.enter("claim")
        with self._lock:
            if token in self._claims:
                return False
            self._claims.add(token)
            return True

    def read(self, level: Level, start: datetime, end: datetime) -> list[TallyRow]:
        self.faults.enter("read")
        now = time.time()
        with self._lock:
            rows = [
                TallyRow(route, audience, at, tally)
                for (kept_level, at, route), (audience, tally) in self._rows.items()
                if kept_level == level and start <= at < end and (at + RETENTION[level]).timestamp() > now
            ]
        return sorted(rows, key=lambda r: (r.start, r.route))
