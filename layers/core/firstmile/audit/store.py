"""The audit log in the main table: one chain per tenant, appended atomically with the change it records, listed by
keys.

Key formats (see docs/data-model.md):
- entry: ``pk = TENANT#<t>#AUDIT``, ``sk = ENTRY#<at>#<sequence:012d>``; ``gsi1pk = TENANT#<t>#AUDIT#ACTION#<action>``,
  ``gsi1sk = <sk>`` (list by action and time);
- the same entry under its actor: ``pk = TENANT#<t>#AUDIT#ACTOR#<actor>``, ``sk = <sk>`` (list by actor and time);
- a pointer to it under each person it names (``logic.named_people``, at most two):
  ``pk = TENANT#<t>#AUDIT#PERSON#<id>``, ``sk = <sk>``, so an erasure finds that person's entries with one Query;
- the chain's head: ``pk = TENANT#<t>#AUDIT``, ``sk = HEAD`` with ``sequence``, ``hash``, ``at``.

An append reads the head, then writes the entry, its actor copy, its person pointers and the new head in one
transaction whose head write is conditioned on the sequence it read. A change that is audited (an admin's, an
operator's, a job's) puts its own items into that same transaction (``transact``), so the change is never stored
without its entry, nor the entry without the change. Two concurrent appends cannot both win; the loser re-reads the
head and sends its change again, so the chain never forks. Entries are never updated or deleted by Firstmile, but
for one change: an erasure (``forget_person``) replaces the fields that name the erased person by their salted
digests, which leaves every hash as it was (decision 0083).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from firstmile.audit.logic import ERASED, erase, format_time, named_people, next_entry, parse_time, verify_chain
from firstmile.audit.models import AuditEntry, AuditEvent, AuditFilter, ChainHead, ChainVerification, UnreadableEntry
from firstmile.errors import DependencyUnavailableError
from firstmile.platform.cursors import DEFAULT_LIMIT, Page
from firstmile.platform.gateway import (
    CONDITION_FAILED,
    MAX_TRANSACTION_ITEMS,
    TableGateway,
    applied,
    item_key,
    partition,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_ENTRY_FIELDS = (
    "tenant",
    "sequence",
    "actor",
    "action",
    "target",
    "correlation_id",
    "details",
    "previous_hash",
    "salts",
    "sealed",
)
# The people an entry may name (an actor and the user acted on); an event naming more is refused.
MAX_NAMED_PEOPLE = 2
# An append writes the entry, its actor copy, the head and a pointer per person named.
_APPEND_ITEMS = 3 + MAX_NAMED_PEOPLE
MAX_CHANGE_ITEMS = MAX_TRANSACTION_ITEMS - _APPEND_ITEMS
"""How many items of its own a change may write in the transaction that also appends its audit entry."""


class AuditAppendContendedError(DependencyUnavailableError):
    """An append lost the race for the chain's head more often than it may retry (answered as 503)."""

    def __init__(self, tenant: str) -> None:
        super().__init__("audit log", f"append to the chain of {tenant} stayed contended")


def _chain_pk(tenant: str) -> str:
    return f"TENANT#{tenant}#AUDIT"


def _action_pk(tenant: str, action: str) -> str:
    return f"TENANT#{tenant}#AUDIT#ACTION#{action}"


def _actor_pk(tenant: str, actor: str) -> str:
    return f"TENANT#{tenant}#AUDIT#ACTOR#{actor}"


def _person_pk(tenant: str, person: str) -> str:
    return f"TENANT#{tenant}#AUDIT#PERSON#{person}"


def _entry_sk(entry: AuditEntry) -> str:
    return f"ENTRY#{format_time(entry.at)}#{entry.sequence:012d}"


_HEAD_SK = "HEAD"


def _now() -> float:
    return time.time()


class AuditStore:
    """Appends to, lists and verifies the per-tenant audit chains."""

    def __init__(
        self,
        table: Table | TableGateway,
        *,
        clock: Callable[[], float] = _now,
        max_attempts: int = 25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = TableGateway.of(table)
        self._clock = clock
        self._max_attempts = max_attempts
        self._sleep = sleep

    # --- appending ---------------------------------------------------------------------------------------------

    def record(self, event: AuditEvent) -> AuditEntry:
        """Append ``event`` to its tenant's chain (an event that changes nothing else); retries when a concurrent
        append took the head first."""
        entry, _ = self._commit((), event)
        if entry is None:  # an append without a change has no condition of its own to fail
            raise AssertionError("an append of nothing but the entry was refused")
        return entry

    def transact(self, change: Sequence[dict[str, Any]], event: AuditEvent) -> list[dict[str, Any]] | None:
        """Write ``change`` (TransactWriteItems items, at most ``MAX_CHANGE_ITEMS``) and ``event``'s entry in one
        transaction. ``None`` when both are stored; the cancellation reasons of ``change``'s items (one per item, in
        order) when one of its conditions failed, and then neither is stored.

        When only the head's condition failed (a concurrent append), the head is read again and the same change
        sent with the next entry, after a jittered pause. A transaction refused by conditions that its own earlier
        delivery made false (the answer was lost and the request sent again), or that failed without an answer, is
        recognised by its entry being stored: it applied once, and counts as applied. ``AuditAppendContendedError``
        when the head stays contended; ``DependencyUnavailableError`` when the table fails."""
        _check_change(change, event.tenant)
        _, reasons = self._commit(change, event)
        return reasons

    def _commit(
        self, change: Sequence[dict[str, Any]], event: AuditEvent
    ) -> tuple[AuditEntry | None, list[dict[str, Any]] | None]:
        for attempt in range(1, self._max_attempts + 1):
            head = self.head(event.tenant)
            entry = next_entry(event, head, datetime.fromtimestamp(self._clock(), UTC))
            items = [*change, *self.append_writes(entry, head)]
            try:
                reasons = self._table.transact(items)
            except DependencyUnavailableError:
                if self._stored(entry):  # it applied; only its answer was lost
                    return entry, None
                raise
            if reasons is None:
                return entry, None
            own, chain = reasons[: len(change)], reasons[len(change) :]
            chain_refused = any(r.get("Code") == CONDITION_FAILED for r in chain)
            if chain_refused and self._stored(entry):
                return entry, None
            if any(r.get("Code") == CONDITION_FAILED for r in own):
                return None, own
            # Full jitter, capped: contention on one tenant's chain is short-lived.
            self._sleep(random.uniform(0, min(0.25, 0.005 * 2**attempt)))  # noqa: S311 - jitter, not security
        raise AuditAppendContendedError(event.tenant)

    def append_writes(self, entry: AuditEntry, head: ChainHead | None) -> list[dict[str, Any]]:
        """The three writes that append ``entry`` after ``head``: the entry (if absent), its actor copy, and the new
        head on condition that the chain still ends at ``head``."""
        sk = _entry_sk(entry)
        body = _entry_item(entry)
        chain_pk = _chain_pk(entry.tenant)
        people = sorted(named_people(entry))
        if len(people) > MAX_NAMED_PEOPLE:
            raise ValueError(f"an audit entry names at most {MAX_NAMED_PEOPLE} people")
        pointers = [
            self._table.put_action({"pk": _person_pk(entry.tenant, person), "sk": sk, "kind": "audit_person_pointer"})
            for person in people
        ]
        head_condition: dict[str, Any] = (
            {"condition": "#seq = :read", "names": {"#seq": "sequence"}, "values": {":read": head.sequence}}
            if head
            else {"condition": "attribute_not_exists(pk)"}
        )
        return [
            self._table.put_new_action(
                {
                    "pk": chain_pk,
                    "sk": sk,
                    "gsi1pk": _action_pk(entry.tenant, entry.action),
                    "gsi1sk": sk,
                    "kind": "audit_entry",
                    **body,
                }
            ),
            self._table.put_action(
                {"pk": _actor_pk(entry.tenant, entry.actor), "sk": sk, "kind": "audit_actor_entry", **body}
            ),
            *pointers,
            self._table.put_action(
                {
                    "pk": chain_pk,
                    "sk": _HEAD_SK,
                    "kind": "audit_head",
                    "sequence": entry.sequence,
                    "hash": entry.hash,
                    "at": format_time(entry.at),
                },
                **head_condition,
            ),
        ]

    def _stored(self, entry: AuditEntry) -> bool:
        """Whether ``entry`` itself is in the chain (one consistent GetItem; its hash names this very attempt). A
        failure to read leaves the question open: ``False``."""
        try:
            item = self._table.get(
                {"pk": _chain_pk(entry.tenant), "sk": _entry_sk(entry)}, projection="#hash", names={"#hash": "hash"}
            )
        except DependencyUnavailableError:
            return False
        return item is not None and item.get("hash") == entry.hash

    def head(self, tenant: str) -> ChainHead | None:
        """The newest entry's sequence and hash, read consistently."""
        item = self._table.get({"pk": _chain_pk(tenant), "sk": _HEAD_SK})
        if not item:
            return None
        return ChainHead(sequence=int(item["sequence"]), hash=str(item["hash"]), at=parse_time(str(item["at"])))

    # --- erasure -------------------------------------------------------------------------------------------------

    def entries_naming(self, tenant: str, person: str) -> list[AuditEntry]:
        """Every entry that names ``person`` (through their pointers), oldest first: for an export or an erasure. One
        Query of the pointers, one BatchGetItem per hundred entries."""
        pointers = self._table.query_all(partition(_person_pk(tenant, person)), consistent=True)
        keys = [{"pk": _chain_pk(tenant), "sk": pointer["sk"]} for pointer in pointers]
        entries = [_entry_from(item) for item in self._table.get_many(keys, consistent=True)]
        return [entry for entry in entries if isinstance(entry, AuditEntry)]

    def forget_person(self, tenant: str, person: str) -> int:
        """Erase ``person`` from every entry naming them (decision 0083): each such field becomes its salted digest,
        so the chain still verifies. Per entry, one transaction rewrites it on condition that no other erasure
        rewrote it since it was read (its ``erasures`` count), replaces its actor copy (or deletes it when the person
        was the actor) and deletes the pointer, so a run cut short resumes where it stopped, and two erasures of
        people one entry names never undo each other (the loser reads the entry again). How many entries were
        erased."""
        erased = 0
        for pointer in list(self._table.query_all(partition(_person_pk(tenant, person)), consistent=True)):
            for _ in range(self._max_attempts):
                if self._forget_in_entry(tenant, person, str(pointer["sk"])):
                    erased += 1
                    break
            else:
                raise AuditAppendContendedError(tenant)
        return erased

    def _forget_in_entry(self, tenant: str, person: str, sk: str) -> bool:
        """One entry's erasure; ``False`` when another erasure rewrote it meanwhile (read it again)."""
        pointer_key = {"pk": _person_pk(tenant, person), "sk": sk}
        item = self._table.get({"pk": _chain_pk(tenant), "sk": sk}, consistent=True)
        entry = _entry_from(item) if item else None
        if not isinstance(entry, AuditEntry):
            self._table.delete(pointer_key)  # nothing readable to erase under it
            return True
        assert item is not None  # noqa: S101 - read just above
        rewrites = int(item.get("erasures", 0))
        cleaned = erase(entry, person)
        writes = [
            self._table.put_action(
                {
                    "pk": _chain_pk(tenant),
                    "sk": sk,
                    "gsi1pk": _action_pk(tenant, entry.action),
                    "gsi1sk": sk,
                    "kind": "audit_entry",
                    **_entry_item(cleaned),
                    "erasures": rewrites + 1,
                },
                condition="attribute_not_exists(#n) OR #n = :n" if rewrites == 0 else "#n = :n",
                names={"#n": "erasures"},
                values={":n": rewrites},
            ),
            self._table.delete_action(pointer_key),
        ]
        if cleaned.actor != entry.actor:
            writes.append(self._table.delete_action({"pk": _actor_pk(tenant, entry.actor), "sk": sk}))
        elif entry.actor != ERASED and cleaned != entry:
            copy = {"pk": _actor_pk(tenant, entry.actor), "sk": sk, "kind": "audit_actor_entry", **_entry_item(cleaned)}
            writes.append(self._table.put_action(copy))
        return applied(self._table.transact(writes), f"an audit entry of {tenant}")

    # --- reading -------------------------------------------------------------------------------------------------

    def list_entries(
        self, tenant: str, filters: AuditFilter | None = None, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AuditEntry]:
        """One page of a tenant's entries, newest first, by actor, by action or all, within an optional time range.

        Each filter is a key condition: the actor copy's partition, the action index, or the chain's partition;
        an action filter on top of an actor filter is applied to that actor's entries only.
        """
        filters = filters or AuditFilter()
        low = "ENTRY#" + (format_time(filters.since) if filters.since else "")
        high = "ENTRY#" + (format_time(filters.until) if filters.until else "") + "~"
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        filter_expression = None
        if filters.actor:
            condition = partition(_actor_pk(tenant, filters.actor)).between(low, high)
            if filters.action:
                filter_expression = "#action = :action"
                names["#action"] = "action"
                values[":action"] = filters.action
        elif filters.action:
            condition = partition(_action_pk(tenant, filters.action), index="gsi1").between(low, high)
        else:
            condition = partition(_chain_pk(tenant)).between(low, high)
        # The cursor is bound to the list it came from: partition, range and the extra action filter.
        cursor_scope = f"{condition.partition_value}|{low}|{high}|{filters.action or ''}"
        items, next_cursor = self._table.query_page(
            condition,
            limit=limit,
            cursor=cursor,
            scope=cursor_scope,
            newest_first=True,
            filter=filter_expression,
            names=names,
            values=values,
        )
        entries = [_entry_from(item) for item in items]
        return Page[AuditEntry](items=[e for e in entries if isinstance(e, AuditEntry)], next_cursor=next_cursor)

    def verify(self, tenant: str) -> ChainVerification:
        """Walk the tenant's whole chain in order and report the first broken link (if any)."""
        head = self.head(tenant)
        return verify_chain(self._chain(tenant), head)

    def _chain(self, tenant: str) -> Iterator[AuditEntry | UnreadableEntry]:
        for item in self._table.query_all(partition(_chain_pk(tenant)).begins_with("ENTRY#"), consistent=True):
            yield _entry_from(item)


def _check_change(change: Sequence[dict[str, Any]], tenant: str) -> None:
    """Refuse a change that cannot share a transaction with an append: too many items, an item written twice, or
    an item of the tenant's audit log itself (only appends write there)."""
    if len(change) > MAX_CHANGE_ITEMS:
        raise ValueError(f"a change audited in its own transaction writes at most {MAX_CHANGE_ITEMS} items")
    keys = [item_key(write) for write in change]
    if len(set(keys)) != len(keys):
        raise ValueError("a transaction may write an item only once")
    if any(str(key[1]).startswith(_chain_pk(tenant)) for key in keys):
        raise ValueError("a change may not write the audit log's own items")


def _entry_item(entry: AuditEntry) -> dict[str, Any]:
    body = entry.model_dump(include=set(_ENTRY_FIELDS))
    return {**body, "at": format_time(entry.at), "hash": entry.hash}


def _entry_from(item: dict[str, Any]) -> AuditEntry | UnreadableEntry:
    try:
        return AuditEntry(
            tenant=item["tenant"],
            sequence=int(item["sequence"]),
            at=parse_time(str(item["at"])),
            actor=item["actor"],
            action=item["action"],
            target=item["target"],
            correlation_id=item["correlation_id"],
            details=dict(item["details"]),
            previous_hash=item["previous_hash"],
            hash=item["hash"],
            salts=dict(item.get("salts") or {}),
            sealed=dict(item.get("sealed") or {}),
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        tail = str(item.get("sk", "")).rsplit("#", 1)[-1]
        return UnreadableEntry(sequence=int(tail) if tail.isdigit() else None)
