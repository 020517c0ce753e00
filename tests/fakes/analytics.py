"""In-memory funnel counters."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from firstmile.analytics.counting import CounterUpdate, funnel_partition, period_bounds
from firstmile.analytics.ports import MAX_WRITE_ITEMS, CounterItem
from tests.fakes.faults import Faults


class FakeFunnelCounterStore:
    """``FunnelCounters`` in memory: counter items by partition and sort key, and the markers of counted events,
    changed together under one lock as the table changes them in one transaction."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._items: dict[str, dict[str, dict[str, float]]] = {}
        self._markers: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def count(self, tenant: str, marker: str, updates: Sequence[CounterUpdate], now: datetime) -> bool:
        return self.count_together([(tenant, marker)], updates, now)

    def count_together(
        self, markers: Sequence[tuple[str, str]], updates: Sequence[CounterUpdate], now: datetime
    ) -> bool:
        self.faults.enter("count")
        if len(markers) + len(updates) > MAX_WRITE_ITEMS:
            raise ValueError(f"{len(markers) + len(updates)} items are more than one counting write holds")
        if len({(u.key.pk, u.key.sk) for u in updates}) < len(updates):
            raise ValueError("a transaction touches each item once")  # as DynamoDB refuses it
        with self._lock:
            if any(m in self._markers for m in markers) or self.faults.conflicts("count"):
                return False
            self._markers.update(markers)
            for update in updates:
                item = self._items.setdefault(update.key.pk, {}).setdefault(update.key.sk, {})
                for name, amount in update.amounts.items():
                    item[name] = round(item.get(name, 0) + amount, 3)
        return True

    def counted(self, markers: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        self.faults.enter("counted")
        with self._lock:
            return {m for m in markers if m in self._markers}

    def read(
        self, tenant: str, flow_id: str, flow_version: int, segment: str, period: str, first: str, last: str
    ) -> list[CounterItem]:
        self.faults.enter("read")
        pk = funnel_partition(tenant, flow_id, flow_version, segment)
        low, high = period_bounds(period, first, last)
        with self._lock:
            items = sorted(self._items.get(pk, {}).items())
        return [(sk, dict(item)) for sk, item in items if low <= sk <= high]
