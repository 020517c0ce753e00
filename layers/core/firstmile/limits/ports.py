"""What the rate limiter needs of storage, as a protocol: ``RateLimitStore`` (the table) implements it, and so does
the unit tests' in-memory fake; both pass the same contract suite (tests/contracts/limits.py)."""

from __future__ import annotations

from typing import Protocol

from firstmile.limits.models import LimitSubject, RouteClass


class Counter(Protocol):
    """Fixed-window counters per subject and route class."""

    def hit(self, subject: LimitSubject, route_class: RouteClass, window_start: int, window_seconds: int) -> int:
        """Atomically add one to the window's counter; the new count."""
        ...

    def count(self, subject: LimitSubject, route_class: RouteClass, window_start: int) -> int:
        """The window's count so far, without adding to it."""
        ...
