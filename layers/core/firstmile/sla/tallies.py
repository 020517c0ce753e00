"""Per-route tallies of answered requests (issue 15, decision 0101): what the SLA endpoints read.

A ``Tally`` counts one route's requests over one period: how many, by status class and by problem code, a latency
histogram (``firstmile.sla.histogram``), and how many were slower than each objective's threshold (counted from the
exact latency, not the histogram). Tallies add, so the aggregator adds each batch's tallies to the minute, the hour
and the day they fall in, and a window of any length is read at the coarsest level that covers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from firstmile.sla.histogram import Histogram
from firstmile.sla.objectives import slow_thresholds
from firstmile.sla.requests import RequestSample

K = TypeVar("K")
Level = Literal["minute", "hour", "day"]
LEVELS: tuple[Level, ...] = ("minute", "hour", "day")
STEP: dict[Level, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
RETENTION: dict[Level, timedelta] = {
    "minute": timedelta(days=3),
    "hour": timedelta(days=35),
    "day": timedelta(days=400),
}
"""How long each level is kept: minutes for the short burn-rate windows, hours for the three-day one, days for a
30-day budget and a year of history."""


def period_start(at: datetime, level: Level) -> datetime:
    """The start of the ``level`` period ``at`` falls in (UTC)."""
    at = at.astimezone(UTC)
    if level == "minute":
        return at.replace(second=0, microsecond=0)
    if level == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


@dataclass
class Tally:
    """One route's requests over one period."""

    requests: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    by_code: dict[str, int] = field(default_factory=dict)
    histogram: Histogram = field(default_factory=Histogram)
    slower_than: dict[int, int] = field(default_factory=dict)
    marked: dict[str, int] = field(default_factory=dict)

    def add(self, sample: RequestSample) -> None:
        self.requests += 1
        klass = status_class(sample.status)
        self.by_class[klass] = self.by_class.get(klass, 0) + 1
        if sample.status >= 400:
            code = sample.code or f"HTTP_{sample.status}"
            self.by_code[code] = self.by_code.get(code, 0) + 1
        self.histogram.add(sample.latency_ms)
        for threshold in slow_thresholds():
            if sample.latency_ms > threshold:
                self.slower_than[threshold] = self.slower_than.get(threshold, 0) + 1
        for mark in sample.marks:
            self.marked[mark] = self.marked.get(mark, 0) + 1

    def merge(self, other: Tally) -> Tally:
        return Tally(
            requests=self.requests + other.requests,
            by_class=_summed(self.by_class, other.by_class),
            by_code=_summed(self.by_code, other.by_code),
            histogram=self.histogram.merge(other.histogram),
            slower_than=_summed(self.slower_than, other.slower_than),
            marked=_summed(self.marked, other.marked),
        )

    @property
    def server_errors(self) -> int:
        return self.by_class.get("5xx", 0)

    @property
    def client_errors(self) -> int:
        return self.by_class.get("4xx", 0)


def _summed(a: dict[K, int], b: dict[K, int]) -> dict[K, int]:
    merged = dict(a)
    for key, count in b.items():
        merged[key] = merged.get(key, 0) + count
    return merged


@dataclass(frozen=True)
class TallyKey:
    route: str
    audience: str
    minute: datetime


@dataclass(frozen=True)
class TallyRow:
    """A stored tally: its route, the audience of the route, the start of its period, and the counts."""

    route: str
    audience: str
    start: datetime
    tally: Tally


def tally_samples(samples: Iterable[RequestSample]) -> dict[TallyKey, Tally]:
    """The samples tallied per route and minute."""
    tallies: dict[TallyKey, Tally] = {}
    for sample in samples:
        minute = period_start(datetime.fromtimestamp(sample.at_ms / 1000, UTC), "minute")
        tallies.setdefault(TallyKey(sample.route, sample.audience, minute), Tally()).add(sample)
    return tallies


def total(rows: Iterable[TallyRow]) -> Tally:
    """Every row's counts together."""
    summed = Tally()
    for row in rows:
        summed = summed.merge(row.tally)
    return summed
