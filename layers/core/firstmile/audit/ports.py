"""What the rest of Firstmile needs of the audit log, as a protocol: ``AuditStore`` (the table) implements it, and
the unit tests' in-memory fake does too. Both pass the same contract suite (tests/contracts/audit.py)."""

from __future__ import annotations

from typing import Protocol

from firstmile.audit.models import AuditEntry, AuditEvent, AuditFilter, ChainHead, ChainVerification
from firstmile.platform.cursors import DEFAULT_LIMIT, Page


class AuditLog(Protocol):
    """Per-tenant hash chains: append, list, verify."""

    def record(self, event: AuditEvent) -> AuditEntry:
        """Append ``event`` to its tenant's chain (an event that changes nothing else); the entry appended."""
        ...

    def head(self, tenant: str) -> ChainHead | None:
        """The newest entry's sequence and hash (``None`` before the first entry)."""
        ...

    def list_entries(
        self, tenant: str, filters: AuditFilter | None = None, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AuditEntry]:
        """One page of a tenant's entries, newest first, by actor, by action or all, within an optional time range;
        a cursor works only for the list (tenant and filters) it came from."""
        ...

    def verify(self, tenant: str) -> ChainVerification:
        """Walk the tenant's whole chain in order and report the first broken link (if any)."""
        ...

    def entries_naming(self, tenant: str, person: str) -> list[AuditEntry]:
        """Every entry naming ``person`` (``logic.named_people``), oldest first."""
        ...

    def forget_person(self, tenant: str, person: str) -> int:
        """Erase ``person`` from every entry naming them, leaving each hash as it was (decision 0083); how many
        entries were erased. Running it again erases nothing more."""
        ...
