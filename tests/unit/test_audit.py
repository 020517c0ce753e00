"""The audit hash chain: canonical hashing, linking, and verify reporting exactly the first broken link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firstmile.audit.logic import (
    GENESIS_HASH,
    PERSONAL_FIELDS,
    canonical_json,
    entry_hash,
    erase,
    field_digest,
    named_people,
    next_entry,
    verify_chain,
)
from firstmile.audit.models import AuditEntry, AuditEvent, ChainHead, UnreadableEntry

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(n: int) -> AuditEvent:
    return AuditEvent(
        tenant="t-acme",
        actor=f"admin:u-{n % 3}",
        action="flag.updated" if n % 2 else "client.created",
        target=f"flag:f-{n}",
        correlation_id=f"c-{n}",
        details={"n": str(n), "note": "größe ✓"},
    )


def chain(length: int) -> tuple[list[AuditEntry], ChainHead | None]:
    entries: list[AuditEntry] = []
    head: ChainHead | None = None
    for n in range(length):
        entry = next_entry(event(n), head, T0 + timedelta(seconds=n))
        entries.append(entry)
        head = ChainHead(sequence=entry.sequence, hash=entry.hash, at=entry.at)
    return entries, head


def test_the_first_entry_links_to_genesis_and_each_next_to_its_predecessor() -> None:
    entries, head = chain(3)

    assert [e.sequence for e in entries] == [1, 2, 3]
    assert entries[0].previous_hash == GENESIS_HASH
    assert entries[1].previous_hash == entries[0].hash
    assert entries[2].previous_hash == entries[1].hash
    assert head is not None and head.hash == entries[2].hash


def test_the_canonical_form_is_stable_and_covers_the_personal_fields_through_salted_digests() -> None:
    entry = chain(1)[0][0]

    text = canonical_json(entry).decode()

    actor = field_digest("actor", entry.salts["actor"], "admin:u-0")
    assert text.startswith(f'{{"action":"client.created","actor":"{actor}","at":"2026-01-01T00:00:00.000000Z"')
    assert '"hash"' not in text and '"previous_hash"' in text and "salt" not in text
    assert "admin:u-0" not in text and "größe" not in text
    assert entry_hash(entry) == entry.hash
    # Each field has its own salt, so one field's digest says nothing of another's
    assert len(set(entry.salts.values())) == len(PERSONAL_FIELDS)


def test_an_erased_field_keeps_the_hash_and_a_forged_one_breaks_it() -> None:
    named = AuditEvent(tenant="t-acme", actor="admin:u-1", action="onboarding.user.restarted", target="user:u-9")
    entry = next_entry(named, None, T0)
    assert named_people(entry) == {"u-1", "u-9"}

    erased = erase(entry, "u-9")

    assert (erased.actor, erased.target) == ("admin:u-1", "erased")
    assert "target" not in erased.salts and erased.sealed["target"]
    assert entry_hash(erased) == entry.hash and erase(erased, "u-9") == erased
    assert verify_chain([erased], ChainHead(sequence=1, hash=entry.hash, at=entry.at)).ok
    forged = erased.model_copy(update={"actor": "admin:u-2"})
    assert entry_hash(forged) != entry.hash


def test_time_never_goes_backwards_along_the_chain() -> None:
    first = next_entry(event(1), None, T0)
    head = ChainHead(sequence=1, hash=first.hash, at=first.at)

    second = next_entry(event(2), head, T0 - timedelta(seconds=30))

    assert second.at == first.at


def test_an_intact_chain_verifies() -> None:
    entries, head = chain(5)

    report = verify_chain(entries, head)

    assert report.ok and report.checked == 5 and report.head_sequence == 5 and report.first_broken is None


def test_an_empty_chain_verifies() -> None:
    assert verify_chain([], None).ok


@given(
    st.integers(min_value=1, max_value=8),
    st.data(),
    st.sampled_from(["actor", "action", "target", "correlation_id", "details", "at", "previous_hash"]),
)
def test_tampering_with_any_field_of_any_entry_is_reported_at_exactly_that_entry(
    length: int, data: st.DataObject, field: str
) -> None:
    entries, head = chain(length)
    victim = data.draw(st.integers(min_value=0, max_value=length - 1))
    changed = {
        "actor": "operator:mallory",
        "action": "nothing.happened",
        "target": "flag:other",
        "correlation_id": "forged",
        "details": {"n": "forged"},
        "at": entries[victim].at + timedelta(microseconds=1),
        "previous_hash": "f" * 64,
    }[field]
    entries[victim] = entries[victim].model_copy(update={field: changed})

    report = verify_chain(entries, head)

    assert not report.ok
    assert report.first_broken is not None
    assert report.first_broken.sequence == victim + 1
    assert report.first_broken.reason == "hash_mismatch"
    assert report.checked == victim


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link() -> None:
    entries, head = chain(4)
    forged = entries[1].model_copy(update={"target": "flag:other"})
    entries[1] = forged.model_copy(update={"hash": entry_hash(forged)})

    report = verify_chain(entries, head)

    assert report.first_broken is not None
    assert (report.first_broken.sequence, report.first_broken.reason) == (3, "link_mismatch")


def test_a_deleted_entry_is_a_gap_and_deleted_newest_entries_disagree_with_the_head() -> None:
    entries, head = chain(5)

    gap = verify_chain(entries[:2] + entries[3:], head)
    truncated = verify_chain(entries[:3], head)

    assert gap.first_broken is not None and (gap.first_broken.sequence, gap.first_broken.reason) == (3, "sequence_gap")
    assert truncated.first_broken is not None
    assert (truncated.first_broken.sequence, truncated.first_broken.reason) == (4, "head_mismatch")


def test_an_unreadable_entry_is_reported_where_it_is() -> None:
    entries, head = chain(3)

    report = verify_chain([entries[0], UnreadableEntry(sequence=2), entries[2]], head)

    assert report.first_broken is not None
    assert (report.first_broken.sequence, report.first_broken.reason) == (2, "unreadable")


@pytest.mark.parametrize("bad", ["Tenant.Created", "created", "tenant..created", "tenant.created!"])
def test_actions_are_dotted_lower_case_names(bad: str) -> None:
    with pytest.raises(ValueError):
        AuditEvent(tenant="t", actor="system", action=bad, target="x")


def test_an_entry_written_before_salted_digests_still_verifies_and_is_left_as_it_is() -> None:
    # An entry as stored before decision 0083: no salts, hashed over its fields themselves
    legacy = AuditEntry(
        tenant="t-acme",
        sequence=1,
        at=T0,
        actor="admin:u-1",
        action="flag.updated",
        target="user:u-9",
        correlation_id="",
        details={},
        previous_hash=GENESIS_HASH,
        hash="",
    )
    legacy = legacy.model_copy(update={"hash": entry_hash(legacy)})
    assert '"actor":"admin:u-1"' in canonical_json(legacy).decode()

    assert verify_chain([legacy], ChainHead(sequence=1, hash=legacy.hash, at=T0)).ok
    assert erase(legacy, "u-9") == legacy
