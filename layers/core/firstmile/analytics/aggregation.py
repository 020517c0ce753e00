"""Counting a batch of the table's change stream into the funnel counters (decision 0070).

Records are counted in the shard's order, each event in one transaction with its marker. At the first record that
cannot be counted (the table unavailable, an event item that does not read as an event) the batch stops, and that
record's sequence number is the batch's one failure: the stream hands it and every later record again (retried,
then bisected, then sent to the on-failure destination), and the markers make what was counted before add nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firstmile.analytics.counting import marker_id, updates
from firstmile.analytics.ports import FunnelCounters
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

    def batch_item_failures(self) -> list[dict[str, str]]:
        """The partial batch response's failures: the record the batch stopped at, if any."""
        return [{"itemIdentifier": self.failed_at}] if self.failed_at is not None else []


class FunnelAggregation:
    """Counts onboarding events from stream batches, exactly once each."""

    def __init__(self, counters: FunnelCounters, *, clock: Clock = utc_now) -> None:
        self._counters = counters
        self._clock = clock

    def consume(self, records: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        counted = repeated = passed_over = 0
        for record in records:
            sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
            try:
                event = event_of(record)
                if event is None:
                    passed_over += 1
                    continue
                made = updates(event)
                if not made:
                    passed_over += 1
                    continue
                now: datetime = self._clock()
                if self._counters.count(event.tenant, marker_id(event), made, now):
                    counted += 1
                else:
                    repeated += 1
            except Exception:
                log.exception(
                    "a stream record could not be counted; the batch stops at it", extra={"sequence": sequence}
                )
                return BatchOutcome(counted, repeated, passed_over, failed_at=sequence)
        return BatchOutcome(counted, repeated, passed_over)
