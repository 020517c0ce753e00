"""What the SLA views need of storage: ``TallyStore`` (the table) implements it, and so does the unit tests' fake;
both pass the same contract suite (tests/contracts/sla.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from firstmile.sla.tallies import Level, Tally, TallyKey, TallyRow


class RequestTallies(Protocol):
    def add(self, tallies: Mapping[TallyKey, Tally], token: str) -> None:
        """Add per-minute tallies to their minute, hour and day. Adding the same tallies with the same ``token``
        again (a retried delivery) within ten minutes counts them once."""
        ...

    def claim(self, token: str) -> bool:
        """Whether this is the first claim of ``token`` (a delivery's), so what follows its first success is done
        once: ``False`` for any later claim within ``CLAIM_DAYS``."""
        ...

    def read(self, level: Level, start: datetime, end: datetime) -> list[TallyRow]:
        """The ``level`` tallies of the periods starting in ``[start, end)``, in time order, without those past
        their retention."""
        ...
