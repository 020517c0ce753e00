"""In-memory rate-limit counters."""

from __future__ import annotations

import threading
from collections import Counter as Tally

from firstmile.limits.models import LimitSubject, RouteClass
from tests.fakes.faults import Faults


class FakeRateLimitStore:
    """``Counter`` in memory: one counter per subject, route class and window, as the table keeps them."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.counts: Tally[tuple[LimitSubject, RouteClass, int]] = Tally()
        self._lock = threading.Lock()

    def hit(self, subject: LimitSubject, route_class: RouteClass, window_start: int, window_seconds: int) -> int:
        self.faults.enter("hit")
        with self._lock:
            self.counts[(subject, route_class, window_start)] += 1
            return self.counts[(subject, route_class, window_start)]

    def count(self, subject: LimitSubject, route_class: RouteClass, window_start: int) -> int:
        self.faults.enter("count")
        return self.counts[(subject, route_class, window_start)]

    def unavailable(self) -> FakeRateLimitStore:
        """This store with every call failing as a throttled table does, from now on."""
        for method in ("hit", "count"):
            self.faults.unavailable(method, times=1_000_000, reason="ProvisionedThroughputExceededException")
        return self
