"""The services' clock: the current moment, timezone-aware UTC, each service's default (tests give theirs).

The local stack can simulate another moment for one request (``shifted_to``; decision 0071): its demo data walks
users through the real API on earlier days. Nothing in a deployment shifts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC (``utc_now`` in production)."""

# How far the simulated moment is from the real one; zero except inside ``shifted_to``.
_shift = timedelta(0)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC) + _shift


@contextmanager
def shifted_to(moment: datetime) -> Iterator[None]:
    """Within the block, ``utc_now`` runs on from ``moment`` (timezone-aware) instead of the real time."""
    global _shift  # noqa: PLW0603 - one process's one clock, shifted for one invocation at a time
    _shift = moment - datetime.now(UTC)
    try:
        yield
    finally:
        _shift = timedelta(0)
