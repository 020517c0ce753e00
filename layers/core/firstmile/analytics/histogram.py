"""Durations as fixed logarithmic buckets: counters that add up across items, days and hours, from which a median or
a p90 comes out within a stated error (decision 0070).

Bucket 0 holds durations under one second. Bucket ``b >= 1`` holds ``[2 ** ((b - 1) / 4), 2 ** (b / 4))`` seconds:
four buckets to each doubling, up to bucket ``LAST``, which also holds everything longer (from about 2.5 years).
A bucket is answered by its geometric middle, so a quantile read from the counts is within ``RELATIVE_ERROR`` (about
9 %) of the exact one, or within half a second under one second. The bucket bounds never change: counters written
under them stay comparable forever, and merging two histograms is adding their counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

BUCKETS_PER_DOUBLING = 4
# The last bucket opens at 2 ** (105 / 4) s, about 2.5 years: longer than events are kept (400 days by default), so
# it is open-ended in principle only, and still counts whatever reaches it.
LAST = 106
# A bucket's geometric middle is at most this far (relatively) from any duration in the bucket.
RELATIVE_ERROR = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1
# ...and bucket 0's middle at most this far (absolutely) from any duration under a second.
SUBSECOND_ERROR_SECONDS = 0.5


def bucket_of(seconds: float) -> int:
    """The bucket of a duration in seconds (a negative one, from clocks that disagree, counts as zero)."""
    if not seconds >= 1.0:  # also NaN
        return 0
    # The float logarithm can land a hair below an exact bound; the bound check below settles it.
    bucket = math.floor(math.log2(seconds) * BUCKETS_PER_DOUBLING) + 1
    if bucket > 1 and seconds < lower_bound(bucket):
        bucket -= 1
    elif seconds >= lower_bound(bucket + 1):
        bucket += 1
    return min(bucket, LAST)


def lower_bound(bucket: int) -> float:
    """The shortest duration bucket ``bucket`` holds."""
    return 0.0 if bucket <= 0 else 2 ** ((bucket - 1) / BUCKETS_PER_DOUBLING)


def middle(bucket: int) -> float:
    """The duration a bucket is answered by: half a second for bucket 0, else the geometric middle of its bounds."""
    if bucket <= 0:
        return SUBSECOND_ERROR_SECONDS
    return 2 ** ((bucket - 0.5) / BUCKETS_PER_DOUBLING)


@dataclass(frozen=True)
class Histogram:
    """Counts by bucket, with the exact count and sum of the durations beside them (an average needs no estimate)."""

    counts: Mapping[int, int] = field(default_factory=dict)
    total_seconds: float = 0.0

    @classmethod
    def of(cls, durations: Iterable[float]) -> Histogram:
        counts: dict[int, int] = {}
        total = 0.0
        for seconds in durations:
            bucket = bucket_of(seconds)
            counts[bucket] = counts.get(bucket, 0) + 1
            total += seconds if seconds > 0 else 0.0
        return cls(counts, total)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def merged(self, other: Histogram) -> Histogram:
        counts = dict(self.counts)
        for bucket, n in other.counts.items():
            counts[bucket] = counts.get(bucket, 0) + n
        return Histogram(counts, self.total_seconds + other.total_seconds)

    def average(self) -> float | None:
        return self.total_seconds / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q <= 1) by nearest rank, as its bucket's middle; ``None`` with no durations."""
        if not 0.0 < q <= 1.0:
            raise ValueError(f"a quantile is in (0, 1], not {q}")
        n = self.count
        if n == 0:
            return None
        rank = math.ceil(q * n)
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return middle(bucket)
        raise AssertionError("unreachable: the counts add up to n")
