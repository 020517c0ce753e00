"""The contract of ``AuditLog``: chained entries, lists by keys newest first, verification."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import pytest

from firstmile import errors as e
from firstmile.audit.models import AuditEvent, AuditFilter
from firstmile.audit.ports import AuditLog
from tests.factories import NOW, FakeClock


def event(n: int, *, actor: str = "admin:u-1", action: str = "flag.updated", tenant: str = "t-acme") -> AuditEvent:
    return AuditEvent(tenant=tenant, actor=actor, action=action, target=f"flag:f-{n}", correlation_id=f"c-{n}")


class AuditLogContract:
    """Subclasses provide ``audit_log``, built over the ``clock`` fixture."""

    implementation: ClassVar[type]

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    def test_entries_are_chained_and_listed_newest_first_in_pages(self, audit_log: AuditLog, clock: FakeClock) -> None:
        # Given five entries of one tenant and one of another
        for n in range(5):
            clock.now += 1
            audit_log.record(event(n))
        audit_log.record(event(99, tenant="t-other"))

        # When the tenant's entries are listed three to a page
        first = audit_log.list_entries("t-acme", limit=3)
        second = audit_log.list_entries("t-acme", limit=3, cursor=first.next_cursor)

        # Then they come newest first, each linked to the one before, and only the tenant's
        assert [e.sequence for e in first.items + second.items] == [5, 4, 3, 2, 1]
        assert second.next_cursor is None
        assert first.items[0].previous_hash == first.items[1].hash
        head = audit_log.head("t-acme")
        assert head is not None and (head.sequence, head.hash) == (5, first.items[0].hash)
        assert audit_log.head("t-nobody") is None

    def test_filters_select_by_actor_action_and_time_and_cursors_stay_with_their_filter(
        self, audit_log: AuditLog, clock: FakeClock
    ) -> None:
        plan = [
            ("admin:u-1", "flag.updated"),
            ("admin:u-2", "flag.updated"),
            ("admin:u-1", "client.created"),
            ("operator:ops", "client.disabled"),
            ("admin:u-1", "flag.updated"),
        ]
        for n, (actor, action) in enumerate(plan):
            clock.now += 60
            audit_log.record(event(n, actor=actor, action=action))

        def sequences(filters: AuditFilter) -> list[int]:
            return [e.sequence for e in audit_log.list_entries("t-acme", filters).items]

        assert sequences(AuditFilter(action="flag.updated")) == [5, 2, 1]
        assert sequences(AuditFilter(actor="admin:u-1")) == [5, 3, 1]
        assert sequences(AuditFilter(actor="admin:u-1", action="flag.updated")) == [5, 1]
        since, until = datetime.fromtimestamp(NOW + 120, UTC), datetime.fromtimestamp(NOW + 240, UTC)
        assert sequences(AuditFilter(since=since, until=until)) == [4, 3, 2]
        assert sequences(AuditFilter(action="flag.updated", since=since)) == [5, 2]
        page = audit_log.list_entries("t-acme", AuditFilter(action="flag.updated"), limit=1)
        with pytest.raises(e.DomainError) as refused:
            audit_log.list_entries("t-acme", AuditFilter(action="client.created"), cursor=page.next_cursor)
        assert refused.value.code == "VAL_CURSOR_INVALID"
        with pytest.raises(e.DomainError):
            audit_log.list_entries("t-other", AuditFilter(action="flag.updated"), cursor=page.next_cursor)

    def test_an_untouched_chain_verifies(self, audit_log: AuditLog) -> None:
        for n in range(4):
            audit_log.record(event(n))

        report = audit_log.verify("t-acme")

        assert report.ok and report.checked == 4 and report.head_sequence == 4
        empty = audit_log.verify("t-nobody")
        assert empty.ok and empty.checked == 0

    def test_erasing_a_person_keeps_the_chain_verifying_and_leaves_others_named(
        self, audit_log: AuditLog, clock: FakeClock
    ) -> None:
        # Given entries by and about u-9, among entries of others
        audit_log.record(event(1))
        clock.now += 1
        audit_log.record(
            AuditEvent(
                tenant="t-acme",
                actor="user:u-9",
                action="session.revoked",
                target="session:s-1",
                details={"user": "u-9", "reason": "logout"},
            )
        )
        clock.now += 1
        audit_log.record(
            AuditEvent(tenant="t-acme", actor="admin:u-1", action="onboarding.user.restarted", target="user:u-9")
        )
        clock.now += 1
        audit_log.record(event(4, actor="user:u-8"))
        assert [entry.sequence for entry in audit_log.entries_naming("t-acme", "u-9")] == [2, 3]

        # When u-9 is erased, twice
        assert audit_log.forget_person("t-acme", "u-9") == 2
        assert audit_log.forget_person("t-acme", "u-9") == 0

        # Then the chain verifies, no entry names u-9, and the others' names are kept
        assert audit_log.verify("t-acme").ok
        entries = {entry.sequence: entry for entry in audit_log.list_entries("t-acme").items}
        assert (entries[2].actor, entries[2].target, entries[2].details) == ("erased", "session:s-1", {})
        assert (entries[3].actor, entries[3].target) == ("admin:u-1", "erased")
        assert "u-9" not in str([entry.model_dump() for entry in entries.values()])
        assert entries[4].actor == "user:u-8" and entries[1].actor == "admin:u-1"
        assert audit_log.entries_naming("t-acme", "u-9") == []
        assert [e.target for e in audit_log.list_entries("t-acme", AuditFilter(actor="admin:u-1")).items] == [
            "erased",
            "flag:f-1",
        ]
        assert audit_log.list_entries("t-acme", AuditFilter(actor="user:u-9")).items == []

    def test_erasing_both_people_an_entry_names_leaves_neither_and_no_stray_copy(
        self, audit_log: AuditLog, clock: FakeClock
    ) -> None:
        audit_log.record(
            AuditEvent(tenant="t-acme", actor="admin:u-1", action="onboarding.user.restarted", target="user:u-9")
        )

        assert audit_log.forget_person("t-acme", "u-9") == 1
        assert audit_log.forget_person("t-acme", "u-1") == 1

        (entry,) = audit_log.list_entries("t-acme").items
        assert (entry.actor, entry.target, entry.salts) == ("erased", "erased", {"details": entry.salts["details"]})
        assert audit_log.verify("t-acme").ok
        for actor in ("admin:u-1", "erased"):
            assert audit_log.list_entries("t-acme", AuditFilter(actor=actor)).items == []
