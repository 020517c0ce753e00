"""An in-memory audit log: the chain logic is the real one (``audit.logic``), only the storage is a list."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from firstmile.audit.logic import ERASED, erase, format_time, named_people, next_entry, verify_chain
from firstmile.audit.models import AuditEntry, AuditEvent, AuditFilter, ChainHead, ChainVerification
from firstmile.platform.cursors import DEFAULT_LIMIT, Page
from tests.fakes.faults import Faults
from tests.fakes.paging import page_of


def _sort_key(entry: AuditEntry) -> str:
    return f"{format_time(entry.at)}#{entry.sequence:012d}"


class FakeAuditLog:
    """``AuditLog`` in memory. Fake stores append their changes' entries here with ``record``, under the same lock
    as the change, so a change and its entry are stored together as in the real transaction."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.faults = Faults()
        self._clock = clock
        self._chains: dict[str, list[AuditEntry]] = {}
        self._lock = threading.RLock()

    def record(self, event: AuditEvent) -> AuditEntry:
        """Append ``event`` to its tenant's chain."""
        self.faults.enter("record")
        with self._lock:
            chain = self._chains.setdefault(event.tenant, [])
            entry = next_entry(event, self._head_of(chain), datetime.fromtimestamp(self._clock(), UTC))
            chain.append(entry)
            return entry

    def head(self, tenant: str) -> ChainHead | None:
        """The newest entry's sequence and hash."""
        self.faults.enter("head")
        with self._lock:
            return self._head_of(self._chains.get(tenant, []))

    def list_entries(
        self, tenant: str, filters: AuditFilter | None = None, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AuditEntry]:
        """Newest first, filtered like the store's key conditions; cursors bound to tenant and filters."""
        self.faults.enter("list_entries")
        filters = filters or AuditFilter()
        low = format_time(filters.since) if filters.since else ""
        high = (format_time(filters.until) if filters.until else "") + "~"
        with self._lock:
            chosen = [
                entry
                for entry in self._chains.get(tenant, [])
                # An erased actor has no copy to list it by (the store deletes it).
                if (filters.actor is None or (entry.actor == filters.actor and entry.actor != ERASED))
                and (filters.action is None or entry.action == filters.action)
                and low <= _sort_key(entry) <= high
            ]
        chosen.sort(key=_sort_key, reverse=True)
        scope = f"audit|{tenant}|{filters.actor or ''}|{filters.action or ''}|{low}|{high}"
        items, next_cursor = page_of(chosen, _sort_key, scope=scope, limit=limit, cursor=cursor, descending=True)
        return Page[AuditEntry](items=items, next_cursor=next_cursor)

    def verify(self, tenant: str) -> ChainVerification:
        """The real chain check over the stored entries."""
        self.faults.enter("verify")
        with self._lock:
            chain = list(self._chains.get(tenant, []))
        return verify_chain(chain, self._head_of(chain))

    def entries_naming(self, tenant: str, person: str) -> list[AuditEntry]:
        """The entries naming ``person``, oldest first."""
        self.faults.enter("entries_naming")
        with self._lock:
            return [entry for entry in self._chains.get(tenant, []) if person in named_people(entry)]

    def forget_person(self, tenant: str, person: str) -> int:
        """Each entry naming ``person`` replaced by its erased form (the real ``logic.erase``)."""
        self.faults.enter("forget_person")
        with self._lock:
            chain = self._chains.get(tenant, [])
            erased = 0
            for index, entry in enumerate(chain):
                if person in named_people(entry):
                    chain[index] = erase(entry, person)
                    erased += 1
            return erased

    # --- for tests --------------------------------------------------------------------------------------------

    def entries(self, tenant: str) -> list[AuditEntry]:
        """Every entry of the tenant's chain, oldest first."""
        with self._lock:
            return list(self._chains.get(tenant, []))

    def actions(self, tenant: str) -> list[str]:
        """The actions of the tenant's chain, oldest first."""
        return [entry.action for entry in self.entries(tenant)]

    @property
    def lock(self) -> threading.RLock:
        """Held by fake stores while they apply a change and append its entry."""
        return self._lock

    @staticmethod
    def _head_of(chain: list[AuditEntry]) -> ChainHead | None:
        if not chain:
            return None
        last = chain[-1]
        return ChainHead(sequence=last.sequence, hash=last.hash, at=last.at)


class AuditedFake:
    """What a fake store with audited changes starts from: ``faults`` to inject, and the audit log (its own unless it is
    given one) whose lock each change holds while it applies itself and appends its entry, as the real transaction
    writes both."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        self.faults = Faults()
        self.audit = audit or FakeAuditLog()
        self._lock = self.audit.lock
