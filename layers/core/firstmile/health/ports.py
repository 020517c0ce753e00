"""What the synthetic probe and the SLA views need of storage, as a protocol: ``ProbeResultStore`` (the table)
implements it, and so does the unit tests' in-memory fake; both pass the same contract suite
(tests/contracts/health.py)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from firstmile.health.models import Readiness


class ProbeResults(Protocol):
    """The synthetic probe's results, kept by the day they were checked on."""

    def record(self, readiness: Readiness) -> None:
        """Keep one probe result under the day of its ``checked_at``, for ``PROBE_RETENTION_DAYS``; a result
        checked at the same instant as a kept one replaces it."""
        ...

    def of_day(self, day: date) -> list[Readiness]:
        """The results checked on ``day``, newest first, without those past their retention."""
        ...
