"""Counting a batch of the table's change stream into the funnel counters (decision 0070).

Records are counted in the shard's order. Consecutive events are counted together: their markers and their
counter updates, merged per counter item, in one transaction of at most ``MAX_WRITE_ITEMS`` items, so a batch of 100
events is a handful of writes and an item many events touch is written once per write. When a write finds a marker
already there (a redelivered batch), nothing of it was added: the events' markers are read (one BatchGetItem), those
counted before are left out, and the rest are counted together again; one by one, each in one transaction with its
own marker, only if that fails too (another consumer counting the same events at that moment).

At the first record that cannot be counted (the table unavailable, an event item that does not read as an event)
the batch stops, and that record's sequence number is the batch's one failure: the
stream hands it and every later record again (retried, then bisected, then kept in the on-failure destination), and
the markers make what was counted before add nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from firstmile.analytics.counting import AnalyticsEvent, CounterUpdate, marker_id, updates
from firstmile.analytics.ports import MAX_WRITE_ITEMS, FunnelCounters
from firstmile.analytics.stream import event_of
from firstmile.clock import Clock, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch did: events counted, events found counted before, records passed over (not events), and the
    sequence number of the record it stopped at (``None`` when it went through)."""

    counted: int = 0
    repeated: int = 0
    passed_over: int = 0
    failed_at: str | None = None
    # What the record it stopped at failed with (its failure record says so; decision 0090).
    error: BaseException | None = None

    def batch_item_failures(self) -> list[dict[str, Any]]:
        """The partial batch response's failures: the record the batch stopped at, if any, with its error."""
        if self.failed_at is None:
            return []
        return [{"itemIdentifier": self.failed_at, "error": self.error}]


class FunnelAggregation:
    """Counts onboarding events from stream batches, exactly once each."""

    def __init__(self, counters: FunnelCounters, *, clock: Clock = utc_now) -> None:
        self._counters = counters
        self._clock = clock

    def consume(self, records: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        tally = _Tally()
        pending = _Pending()
        for record in records:
            sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
            try:
                event = event_of(record)
            except Exception as exc:
                log.exception("a stream record could not be read; the batch stops at it", extra={"sequence": sequence})
                tally.error = exc
                return self._finish(pending, tally, failed_at=sequence)
            made = updates(event) if event is not None else []
            if event is None or not made:
                tally.passed_over += 1
                continue
            if not pending.fits(made):
                failed = self._flush(pending, tally)
                if failed is not None:
                    return tally.outcome(failed)
            pending.add(sequence, event, made)
        return self._finish(pending, tally)

    def _finish(self, pending: _Pending, tally: _Tally, failed_at: str | None = None) -> BatchOutcome:
        failed = self._flush(pending, tally)
        return tally.outcome(failed if failed is not None else failed_at)

    def _flush(self, pending: _Pending, tally: _Tally) -> str | None:
        """Count the pending events: together, or one by one when some were counted before. The sequence number of
        the event the counting stopped at, if it failed."""
        if not pending.events:
            return None
        events, pending.events, pending.merged = pending.events, [], {}
        now: datetime = self._clock()
        if len(events) > 1:
            try:
                if self._together(events, now):
                    tally.counted += len(events)
                    return None
                # Some were counted before (a redelivery): leave those out, then count the rest together again.
                present = self._counters.counted([(e.tenant, marker_id(e)) for _, e, _ in events])
                fresh = [entry for entry in events if (entry[1].tenant, marker_id(entry[1])) not in present]
                tally.repeated += len(events) - len(fresh)
                events = fresh
                if len(events) > 1 and self._together(events, now):
                    tally.counted += len(events)
                    return None
            except Exception:
                log.warning("counting %d events together failed; counting them one by one", len(events), exc_info=True)
        for sequence, event, made in events:
            try:
                if self._counters.count(event.tenant, marker_id(event), made, now):
                    tally.counted += 1
                else:
                    tally.repeated += 1
            except Exception as exc:
                log.exception(
                    "a stream record could not be counted; the batch stops at it", extra={"sequence": sequence}
                )
                tally.error = exc
                return sequence
        return None

    def _together(self, events: Sequence[tuple[str, AnalyticsEvent, list[CounterUpdate]]], now: datetime) -> bool:
        markers = [(event.tenant, marker_id(event)) for _, event, _ in events]
        return self._counters.count_together(markers, list(_merge(events).values()), now)


@dataclass
class _Tally:
    counted: int = 0
    repeated: int = 0
    passed_over: int = 0
    error: BaseException | None = None

    def outcome(self, failed_at: str | None = None) -> BatchOutcome:
        return BatchOutcome(self.counted, self.repeated, self.passed_over, failed_at, self.error if failed_at else None)


@dataclass
class _Pending:
    """Events waiting to be counted together, and the counter items their updates touch."""

    events: list[tuple[str, AnalyticsEvent, list[CounterUpdate]]] = field(default_factory=list)
    merged: dict[tuple[str, str], None] = field(default_factory=dict)

    def fits(self, made: Sequence[CounterUpdate]) -> bool:
        """Whether one more event (its marker and its items) stays within one write."""
        new = {(u.key.pk, u.key.sk) for u in made} - self.merged.keys()
        return len(self.events) + 1 + len(self.merged) + len(new) <= MAX_WRITE_ITEMS

    def add(self, sequence: str, event: AnalyticsEvent, made: list[CounterUpdate]) -> None:
        self.events.append((sequence, event, made))
        self.merged.update(dict.fromkeys((u.key.pk, u.key.sk) for u in made))


def _merge(events: Sequence[tuple[str, AnalyticsEvent, list[CounterUpdate]]]) -> dict[tuple[str, str], CounterUpdate]:
    """The events' updates added up per counter item (a transaction touches each item once)."""
    merged: dict[tuple[str, str], CounterUpdate] = {}
    for _, _, made in events:
        for update in made:
            key = (update.key.pk, update.key.sk)
            before = merged.get(key)
            amounts = dict(before.amounts) if before else {}
            for name, amount in update.amounts.items():
                amounts[name] = amounts.get(name, 0) + amount
            merged[key] = CounterUpdate(update.key, amounts)
    return merged
