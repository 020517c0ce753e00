"""What the funnel aggregator and the analytics views need of storage, as a protocol: ``FunnelCounterStore`` (the
table) implements it, and so does the unit tests' in-memory fake; both pass the same contract suite
(tests/contracts/analytics.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from firstmile.analytics.counting import CounterUpdate

# The most items one counting write holds: DynamoDB's limit of actions in one TransactWriteItems.
MAX_WRITE_ITEMS = 100

# A counter item as a read hands it back: its sort key (period and target) and its counts.
CounterItem = tuple[str, dict[str, float]]


class FunnelCounters(Protocol):
    """The funnel counters of every tenant's flows, kept exactly once per event."""

    def count(self, tenant: str, marker: str, updates: Sequence[CounterUpdate], now: datetime) -> bool:
        """Add one event's ``updates`` together with its ``marker``, all or nothing: ``False`` (and nothing added)
        when the marker is there already, the event having been counted before."""
        ...

    def count_together(
        self, markers: Sequence[tuple[str, str]], updates: Sequence[CounterUpdate], now: datetime
    ) -> bool:
        """Add several events' ``updates`` (at most one per counter item) with their ``markers`` (tenant, marker),
        all or nothing, in one write of at most ``MAX_WRITE_ITEMS`` items: ``False`` (and nothing added) when any
        marker is there already."""
        ...

    def counted(self, markers: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``markers`` (tenant, marker) are there: the events counted before."""
        ...

    def read(
        self, tenant: str, flow_id: str, flow_version: int, segment: str, period: str, first: str, last: str
    ) -> list[CounterItem]:
        """The counter items of one flow version and segment whose ``period`` (``DAY`` or ``HOUR``) runs from
        ``first`` to ``last`` (both included, as the key writes them: ``2026-12-01``, ``2026-12-01T09``), in key
        order."""
        ...
