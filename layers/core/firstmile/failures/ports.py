"""What failed-work handling needs of storage: ``FailureStore`` implements it, and so does the unit tests' fake; both
pass the same contract suite (tests/contracts/failures.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from firstmile.failures.models import Failure, FailureRecord


class FailureStorePort(Protocol):
    def record(self, failure: Failure) -> None:
        """Add one failed attempt to its message's record (made on the first)."""
        ...

    def get(self, source: str, message_id: str) -> FailureRecord | None:
        """The record of one message."""
        ...
