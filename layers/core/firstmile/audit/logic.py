"""The hash chain: how an entry is hashed, how the next entry links to the chain, and how a chain is verified.

An entry's hash is SHA-256 over its canonical JSON (sorted keys, no whitespace, UTF-8, times as fixed-width UTC
strings), ``previous_hash`` included. The fields that may name a person (``actor``, ``target``, ``details``) enter
it as salted digests, each field with its own random salt: erasing a person replaces the field by its digest and
drops the salt (``erase``), the hash still holds, and nobody can test a guessed id against the digest left
(decision 0083). Changing any field of a stored entry breaks its own hash; recomputing that hash breaks the next
entry's link; deleting an entry leaves a gap in the sequence; deleting the newest entries disagrees with the
chain's head. ``verify_chain`` reports the first of these.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from firstmile.audit.models import (
    AuditEntry,
    AuditEvent,
    BreakReason,
    BrokenLink,
    ChainHead,
    ChainVerification,
    UnreadableEntry,
)

GENESIS_HASH = "0" * 64
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
PERSONAL_FIELDS = ("actor", "target", "details")
"""The fields of an entry that may name a person, each hashed through its salted digest."""
ERASED = "erased"
"""What an erased ``actor`` or ``target`` reads."""
# Actors and targets that name a person of the tenant: ``user:<id>``, ``admin:<id>``.
_PERSON_PREFIXES = ("user:", "admin:")


def format_time(at: datetime) -> str:
    """A fixed-width UTC timestamp with microseconds: sorts as text in time order."""
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """The inverse of ``format_time``."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def field_digest(field: str, salt: str, value: Any) -> str:
    """The salted digest of one personal field, as the entry's hash covers it."""
    return hashlib.sha256(_canonical([field, salt, value])).hexdigest()


def canonical_json(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: every field except the hash and the salts, with each personal field as
    its salted digest (kept in ``sealed`` once the field is erased)."""
    if not entry.salts and not entry.sealed:
        # Written before decision 0083: hashed over the fields themselves (it verifies; it cannot be erased).
        legacy: dict[str, Any] = entry.model_dump(exclude={"hash", "salts", "sealed"})
        legacy["at"] = format_time(entry.at)
        return _canonical(legacy)
    body: dict[str, Any] = entry.model_dump(exclude={"hash", "salts", "sealed", *PERSONAL_FIELDS})
    body["at"] = format_time(entry.at)
    for field in PERSONAL_FIELDS:
        sealed = entry.sealed.get(field)
        salt = entry.salts.get(field, "")
        body[field] = sealed if sealed is not None else field_digest(field, salt, _value(entry, field))
    return _canonical(body)


def _value(entry: AuditEntry, field: str) -> Any:
    return entry.model_dump(include={field})[field]


def named_people(entry: AuditEntry | AuditEvent) -> set[str]:
    """The people of the tenant an entry names: its actor and target when they are ``user:`` or ``admin:``, and
    ``details["user"]``. An erasure finds the entries to erase through them."""
    people = {value.split(":", 1)[1] for value in (entry.actor, entry.target) if value.startswith(_PERSON_PREFIXES)}
    if entry.details.get("user"):
        people.add(entry.details["user"])
    return people


def erase(entry: AuditEntry, person: str) -> AuditEntry:
    """``entry`` with every field naming ``person`` erased: the field's digest kept in ``sealed``, its salt dropped,
    the field itself ``erased`` (details: empty). The hash is unchanged and still verifies. An entry written before
    decision 0083 (no salts) is hashed over its fields themselves and is returned as it is: erasing it would break
    the chain."""
    if not entry.salts and not entry.sealed:
        return entry
    sealed, salts, update = dict(entry.sealed), dict(entry.salts), {}
    for field in PERSONAL_FIELDS:
        value = _value(entry, field)
        if field == "details":
            names = value.get("user") == person
        else:
            names = value.startswith(_PERSON_PREFIXES) and value.split(":", 1)[1] == person
        if not names or field in sealed:
            continue
        sealed[field] = field_digest(field, salts.pop(field, ""), value)
        update[field] = {} if field == "details" else ERASED
    if not update:
        return entry
    return entry.model_copy(update={**update, "sealed": sealed, "salts": salts})


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 (hex) of the entry's canonical JSON."""
    return hashlib.sha256(canonical_json(entry)).hexdigest()


def next_entry(event: AuditEvent, head: ChainHead | None, now: datetime) -> AuditEntry:
    """The entry that appends ``event`` after ``head``.

    Its time never goes backwards (a container with a slow clock gets the head's time), so the chain's order by
    sequence is also its order by time, and time ranges can be served by the sort key.
    """
    at = now.astimezone(UTC) if head is None else max(now.astimezone(UTC), head.at)
    unsealed = AuditEntry(
        **event.model_dump(),
        sequence=(head.sequence + 1) if head else 1,
        at=at,
        previous_hash=head.hash if head else GENESIS_HASH,
        hash="",
        salts={field: secrets.token_hex(16) for field in PERSONAL_FIELDS},
    )
    return unsealed.model_copy(update={"hash": entry_hash(unsealed)})


def verify_chain(entries: Iterable[AuditEntry | UnreadableEntry], head: ChainHead | None) -> ChainVerification:
    """Check entries given in sequence order from the first; report the first broken link."""
    expected, previous_hash, checked = 1, GENESIS_HASH, 0
    head_sequence = head.sequence if head else None

    def broken(sequence: int | None, reason: BreakReason) -> ChainVerification:
        return ChainVerification(
            ok=False,
            checked=checked,
            head_sequence=head_sequence,
            first_broken=BrokenLink(sequence=sequence, reason=reason),
        )

    for entry in entries:
        if isinstance(entry, UnreadableEntry):
            return broken(entry.sequence if entry.sequence is not None else expected, "unreadable")
        if entry.sequence != expected:
            return broken(expected, "sequence_gap")
        if entry_hash(entry) != entry.hash:
            return broken(entry.sequence, "hash_mismatch")
        if entry.previous_hash != previous_hash:
            return broken(entry.sequence, "link_mismatch")
        previous_hash, expected, checked = entry.hash, expected + 1, checked + 1

    last = expected - 1
    if head is None and last == 0:
        return ChainVerification(ok=True, checked=0, head_sequence=None)
    if head is None or head.sequence != last or head.hash != previous_hash:
        # Entries after the last one found are missing (or the head itself was altered).
        return broken(last + 1 if head is None or head.sequence > last else head.sequence, "head_mismatch")
    return ChainVerification(ok=True, checked=checked, head_sequence=head_sequence)
