"""What the edge needs of storage, as protocols: the idempotency records kept for requests sent with an
``Idempotency-Key`` (in the format Powertools' idempotency utility wrote them). ``IdempotencyRecordStore`` (the
table) implements ``IdempotencyRecordStorage``, and so does the unit tests' in-memory fake; both pass the same
contract suite (tests/contracts/idempotency.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class IdempotencyRecord:
    """One request's idempotency record, in the table's terms."""

    partition: str
    """Whose records: one partition per tenant (``TENANT#<tenant>#IDEMPOTENCY``) or the public one."""
    key: str
    """The record's key: the function and the hash of the request's scope and key."""
    status: str
    """``INPROGRESS`` or ``COMPLETED``."""
    expires_at: int
    """When the record stops holding its key (epoch seconds; the table's TTL attribute)."""
    in_progress_expires_at: int | None = None
    """When an in-progress record may be taken over, its function having timed out (epoch milliseconds)."""
    data: str | None = None
    """The stored response (JSON text) of a completed request."""
    validation: str | None = None
    """The hash of the request's body, when payloads are validated."""

    def holds_key(self, now: float) -> bool:
        """Whether this record still holds its key at ``now`` (epoch seconds): not expired, and not in progress past
        its in-progress expiry. A write may take the key over exactly when this is false (the table's condition)."""
        if self.expires_at < int(now):
            return False
        lapsed = self.in_progress_expires_at is not None and self.in_progress_expires_at < int(now * 1000)
        return not (self.status == IN_PROGRESS and lapsed)


@dataclass(frozen=True)
class KeyHeld:
    """A write refused because a live record holds its key, with that record (``None`` when the storage did not
    hand it back)."""

    stored: IdempotencyRecord | None


class IdempotencyRecordStorage(Protocol):
    """Idempotency records by partition and key, taken over only once they are no longer live."""

    def get(self, partition: str, key: str) -> IdempotencyRecord | None:
        """The record at ``key`` of ``partition`` (read strongly consistent), or ``None`` when there is none."""
        ...

    def put_unless_live(self, record: IdempotencyRecord, *, now: float) -> KeyHeld | None:
        """Write ``record`` unless a live record holds its key, in one conditional write: it applies when no record
        is stored, when the stored one expired before ``now`` (epoch seconds), or when the stored one is in progress
        and its in-progress expiry passed before ``now``. ``None`` when written, otherwise ``KeyHeld`` with the
        stored record, which stays as it was."""
        ...

    def update(self, record: IdempotencyRecord) -> None:
        """Set the record's ``status``, ``expires_at`` and ``data``, and its ``validation`` when it has one, whatever
        is stored (a record that was not there is written); what the record does not set, such as the in-progress
        expiry, stays as stored."""
        ...

    def delete(self, partition: str, key: str) -> None:
        """Remove the record at ``key`` of ``partition`` (nothing happens when there is none)."""
        ...
