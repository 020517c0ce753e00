"""Fixed-bucket latency histograms (issue 15): percentiles from counts, the same wherever the counts were kept.

Bucket 0 holds latencies up to 1 ms; bucket ``i`` (1 to ``LAST``) holds ``(GROWTH ** (i - 1), GROWTH ** i]`` ms, each
8 % wider than the one before, up to 60 s; bucket ``LAST + 1`` holds everything slower. A percentile is read by
nearest rank (the smallest latency with at least ``p`` % of the samples at or below it) and answered as the geometric
middle of its bucket, so the answer is within ``RELATIVE_ERROR`` (3.93 %) of the true percentile of the samples, or
within 0.5 ms below 1 ms. Beyond 60 s the answer is 60 s ("at least").

Histograms add: the counts of two are the counts of their samples together, so per-minute histograms sum into an
hour's or a month's without losing anything the buckets kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

GROWTH = 1.08
CEILING_MS = 60_000.0
LAST = math.ceil(math.log(CEILING_MS) / math.log(GROWTH))
"""The last bounded bucket (its upper bound is at least 60 s)."""
OVERFLOW = LAST + 1
RELATIVE_ERROR = math.sqrt(GROWTH) - 1
"""The largest relative difference between a bucket's answer and any latency in it (above 1 ms)."""
FLOOR_ERROR_MS = 0.5
"""The largest absolute difference below 1 ms."""


def bucket_of(latency_ms: float) -> int:
    """The bucket a latency falls in."""
    if latency_ms <= 1.0:
        return 0
    index = math.ceil(math.log(latency_ms) / math.log(GROWTH) - 1e-12)
    return min(max(index, 1), OVERFLOW)


def bounds(index: int) -> tuple[float, float]:
    """The latencies a bucket holds: (above, up to and including), in ms."""
    if index <= 0:
        return 0.0, 1.0
    if index >= OVERFLOW:
        return GROWTH**LAST, math.inf
    return GROWTH ** (index - 1), GROWTH**index


def representative(index: int) -> float:
    """What a bucket answers for a percentile that falls in it: its geometric middle (0.5 ms for the first)."""
    low, high = bounds(index)
    if index <= 0:
        return FLOOR_ERROR_MS
    if math.isinf(high):
        return CEILING_MS
    return math.sqrt(low * high)


@dataclass
class Histogram:
    """Counts per bucket, and the samples' sum (for the mean)."""

    counts: dict[int, int] = field(default_factory=dict)
    sum_ms: float = 0.0

    @classmethod
    def of(cls, latencies_ms: Iterable[float]) -> Histogram:
        histogram = cls()
        for latency in latencies_ms:
            histogram.add(latency)
        return histogram

    @classmethod
    def from_counts(cls, counts: Mapping[str, int] | Mapping[int, int], sum_ms: float = 0.0) -> Histogram:
        """From stored counts (keys as text, as a table item or a log line keeps them)."""
        return cls({int(k): int(v) for k, v in counts.items() if int(v) > 0}, float(sum_ms))

    def add(self, latency_ms: float, times: int = 1) -> None:
        index = bucket_of(latency_ms)
        self.counts[index] = self.counts.get(index, 0) + times
        self.sum_ms += latency_ms * times

    def merge(self, other: Histogram) -> Histogram:
        """The histogram of both histograms' samples."""
        counts = dict(self.counts)
        for index, count in other.counts.items():
            counts[index] = counts.get(index, 0) + count
        return Histogram(counts, self.sum_ms + other.sum_ms)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def mean_ms(self) -> float | None:
        return self.sum_ms / self.total if self.total else None

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (0 < p <= 100) by nearest rank, within ``RELATIVE_ERROR``; ``None`` when empty."""
        if not 0 < p <= 100:
            raise ValueError("a percentile is in (0, 100]")
        total = self.total
        if total == 0:
            return None
        rank = math.ceil(p / 100 * total)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return representative(index)
        raise AssertionError("unreachable: the ranks add up to the total")

    def share_above(self, threshold_ms: float) -> float:
        """The share of samples in buckets wholly above ``threshold_ms`` (a latency SLO's bad events; a bucket that
        straddles the threshold counts as good, so choose thresholds at bucket bounds for exact counts)."""
        total = self.total
        if not total:
            return 0.0
        above = sum(count for index, count in self.counts.items() if bounds(index)[0] >= threshold_ms)
        return above / total
