"""The contract of ``ConsentStorePort``: a user's consent kept with optimistic concurrency and its history newest
first; a choice about analytics marks the user's onboarding progress in the same write (or leaves an absent one
absent); an enrolment made on a consent read before a change does not apply."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import pytest

from firstmile.audit.models import AuditEvent
from firstmile.audit.ports import AuditLog
from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.store import ProgressConflictError
from firstmile.privacy.consent import ConsentChange, ConsentState, apply
from firstmile.privacy.policies import PolicyType, PolicyVersion
from firstmile.privacy.ports import (
    ConsentStorePort,
    PolicyStorePort,
    RequestStorePort,
    RetentionStorePort,
    UserPartitionPort,
)
from firstmile.privacy.requests import (
    PrivacyRequest,
    PrivacySettings,
    RequestState,
    RequestType,
    deadline_for,
    new_request_id,
)
from tests.contracts.onboarding import TENANT, enrolment

NOW = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
USER = "u-alice"


def change(**choices: bool) -> ConsentChange:
    return ConsentChange.model_validate({"purposes": choices, "policy_version": "2026-11", "source": "settings"})


class ConsentStoreContract:
    """Subclasses provide ``consents`` and ``onboarding``, the store of the progress ``consents`` marks."""

    implementation: ClassVar[type]

    def test_choices_are_kept_with_their_history_and_a_stale_write_changes_nothing(
        self, consents: ConsentStorePort
    ) -> None:
        # Given no consent recorded
        assert consents.get(TENANT, USER) == ConsentState()

        # When two changes are written one after the other, then one made on the first state again
        first, records = apply(ConsentState(), change(analytics=True, marketing=False), NOW)
        assert consents.write(TENANT, USER, first, records)
        second, more = apply(first, change(analytics=False), NOW + timedelta(seconds=1))
        assert consents.write(TENANT, USER, second, more)
        stale, _ = apply(first, change(marketing=True), NOW + timedelta(seconds=2))
        assert not consents.write(TENANT, USER, stale, [])

        # Then the second is current and the history lists every choice, newest first
        stored = consents.get(TENANT, USER)
        assert (stored.version, stored.analytics_opt_out, stored.purposes["marketing"].granted) == (2, True, False)
        history = consents.history(TENANT, USER, limit=10)
        assert [(r.name, r.granted) for r in history][0] == ("analytics", False)
        assert sorted((r.name, r.granted) for r in history) == [
            ("analytics", False),
            ("analytics", True),
            ("marketing", False),
        ]
        assert len(consents.history(TENANT, USER, limit=1)) == 1
        assert consents.get(TENANT, "u-bob").version == 0

    def test_a_choice_about_analytics_marks_the_users_progress_and_moves_its_version(
        self, consents: ConsentStorePort, onboarding: OnboardingStorePort
    ) -> None:
        # Given an enrolled user
        onboarding.write_transition(enrolment(USER))

        # When they withdraw analytics
        state, records = apply(ConsentState(), change(analytics=False), NOW)
        assert consents.write(TENANT, USER, state, records, analytics_opt_out=True)

        # Then their progress carries the marker and the policy version they accepted, at the next version
        progress = onboarding.get_progress(TENANT, USER)
        assert progress is not None and (progress.analytics_opt_out, progress.version) == (True, 2)
        assert progress.accepted_policies == {"privacy_policy": "2026-11"}

        # And a choice about marketing under newer versions copies them, and leaves the analytics marker alone
        later, more = apply(
            state,
            ConsentChange.model_validate(
                {"purposes": {"marketing": True}, "policy_version": "2026-12", "terms_version": "t-3"}
            ),
            NOW,
        )
        assert consents.write(TENANT, USER, later, more)
        progress = onboarding.get_progress(TENANT, USER)
        assert progress is not None and progress.analytics_opt_out is True
        assert progress.accepted_policies == {"privacy_policy": "2026-12", "terms": "t-3"}

    def test_a_user_not_enrolled_stays_so_and_an_enrolment_on_a_stale_consent_does_not_apply(
        self, consents: ConsentStorePort, onboarding: OnboardingStorePort
    ) -> None:
        # Given an enrolment that read the consent (nothing recorded yet)
        first = consents.enrolment(TENANT, USER)
        assert (first.analytics_opt_out, first.accepted_policies) == (False, {})

        # When the user withdraws analytics before the enrolment is written
        state, records = apply(ConsentState(), change(analytics=False), NOW)
        assert consents.write(TENANT, USER, state, records, analytics_opt_out=True)
        assert onboarding.get_progress(TENANT, USER) is None

        # Then the enrolment made on the old read is refused, and one made on a new read carries the marker
        with pytest.raises(ProgressConflictError):
            onboarding.write_transition(enrolment(USER), checks=[first.check] if first.check else ())
        second = consents.enrolment(TENANT, USER)
        assert (second.analytics_opt_out, second.accepted_policies) == (True, {"privacy_policy": "2026-11"})
        onboarding.write_transition(enrolment(USER), checks=[second.check] if second.check else ())
        assert onboarding.get_progress(TENANT, USER) is not None


class PolicyStoreContract:
    """Subclasses provide ``policies`` built over ``audit_log``."""

    implementation: ClassVar[type]

    def test_versions_are_published_once_each_with_an_entry_and_listed_newest_first(
        self, policies: PolicyStorePort, audit_log: AuditLog
    ) -> None:
        first = policy(PolicyType.PRIVACY_POLICY, "2026-01", NOW)
        terms = policy(PolicyType.TERMS, "t-1", NOW + timedelta(minutes=1))
        second = policy(PolicyType.PRIVACY_POLICY, "2026-12", NOW + timedelta(days=1))
        for published in (first, terms, second):
            assert policies.publish(TENANT, published, event=policy_event())

        # A version published again is refused, writing nothing
        assert not policies.publish(
            TENANT, first.model_copy(update={"url": "https://example.com/x"}), event=policy_event()
        )

        assert [p.version for p in policies.versions(TENANT)] == ["2026-12", "t-1", "2026-01"]
        assert policies.current_versions(TENANT) == {"privacy_policy": "2026-12", "terms": "t-1"}
        assert policies.current_versions("other") == {}
        assert policies.versions(TENANT)[2].url == first.url
        assert policies.versions("other") == []
        assert len(audit_log.list_entries(TENANT).items) == 3


def policy(kind: PolicyType, version: str, at: datetime) -> PolicyVersion:
    return PolicyVersion(
        type=kind, version=version, url=f"https://example.com/{version}", published_at=at, published_by="admin:a"
    )


def policy_event() -> AuditEvent:
    return AuditEvent(tenant=TENANT, actor="admin:a", action="compliance.policy.published", target="policy:test")


def privacy_request(n: int, *, state: RequestState = RequestState.APPROVED, days_ago: int = 0) -> PrivacyRequest:
    created = NOW - timedelta(days=days_ago) + timedelta(seconds=n)
    return PrivacyRequest(
        request_id=new_request_id(created),
        tenant=TENANT,
        user=f"u-{n}",
        type=RequestType.EXPORT,
        state=state,
        source="user",
        created_at=created,
        updated_at=created,
        deadline_at=deadline_for(created),
    )


def request_event(request: PrivacyRequest) -> AuditEvent:
    return AuditEvent(tenant=TENANT, actor="system:privacy", action="privacy.export.changed", target="dsr:x")


class RequestStoreContract:
    """Subclasses provide ``requests`` built over ``audit_log``."""

    implementation: ClassVar[type]

    def test_requests_are_versioned_listed_by_state_and_open_ones_by_deadline(
        self, requests: RequestStorePort, audit_log: AuditLog
    ) -> None:
        # Given three requests, one of them 40 days old
        old = privacy_request(1, days_ago=40)
        pending = privacy_request(2, state=RequestState.PENDING)
        done = privacy_request(3)
        for request in (old, pending, done):
            assert requests.save(request, event=request_event(request))

        # When one completes, and a stale copy of it is saved
        finished = done.model_copy(update={"state": RequestState.COMPLETE, "version": 2, "receipt": {"items": 3}})
        assert requests.save(finished, event=request_event(done))
        assert not requests.save(done.model_copy(update={"version": 2}), event=request_event(done))

        # Then each reads back as saved, with one entry per change
        assert requests.get(TENANT, done.request_id) == finished
        assert requests.get(TENANT, "dsr_" + "0" * 24) is None
        assert len(audit_log.list_entries(TENANT).items) == 4
        # Newest first, all or by state, in pages
        first, cursor = requests.page(TENANT, state=None, limit=2, cursor=None)
        rest, end = requests.page(TENANT, state=None, limit=2, cursor=cursor)
        assert [r.request_id for r in first + rest] == [done.request_id, pending.request_id, old.request_id]
        assert end is None
        by_state, _ = requests.page(TENANT, state=RequestState.APPROVED, limit=10, cursor=None)
        assert [r.request_id for r in by_state] == [old.request_id]
        # The open ones by deadline: the old one is past it
        entries = requests.open_entries(TENANT)
        assert [(e["request_id"], e["state"]) for e in entries] == [
            (old.request_id, "approved"),
            (pending.request_id, "pending"),
        ]
        overdue = requests.open_before(NOW)
        assert [(e["tenant"], e["request_id"], e["type"]) for e in overdue] == [(TENANT, old.request_id, "export")]
        assert len(requests.open_before(NOW + timedelta(days=60))) == 2
        assert [r.request_id for r in requests.many(TENANT, [pending.request_id, "dsr_" + "1" * 24])] == [
            pending.request_id
        ]
        assert requests.open_entries("other") == []

    def test_settings_and_tombstones(self, requests: RequestStorePort, audit_log: AuditLog) -> None:
        assert requests.settings(TENANT) == PrivacySettings()
        chosen = PrivacySettings(execute_erasure_on_verification=True, second_admin_approval=True)
        requests.set_settings(TENANT, chosen, event=request_event(privacy_request(1)))
        assert requests.settings(TENANT) == chosen
        assert requests.settings("other") == PrivacySettings()

        requests.put_tombstone(TENANT, "u-1", "dsr_x", NOW)
        requests.put_tombstone(TENANT, "u-1", "dsr_x", NOW)
        assert requests.tombstoned([(TENANT, "u-1"), (TENANT, "u-2"), ("other", "u-1")]) == {(TENANT, "u-1")}
        assert requests.tombstoned([]) == set()
        assert requests.tombstones(TENANT) == ["u-1"]
        requests.put_tombstone("other", "u-9", "dsr_y", NOW)
        assert sorted(requests.all_tombstones()) == sorted(
            [(TENANT, "u-1", "2026-12-04T11:00:00.000000Z"), ("other", "u-9", "2026-12-04T11:00:00.000000Z")]
        )


ItemWriter = Callable[[str, str, dict[str, Any]], None]
"""Puts an item (sort key, attributes) under a user of ``TENANT``, as the other stores do."""


class UserPartitionContract:
    """Subclasses provide ``partition`` and ``put_item``."""

    implementation: ClassVar[type]

    def test_a_users_items_are_listed_counted_and_deleted(
        self, partition: UserPartitionPort, put_item: ItemWriter
    ) -> None:
        put_item("u-1", "ONBOARDING#PROGRESS", {"kind": "onboarding_progress", "flow_id": "f"})
        put_item("u-1", "ONBOARDING#EVENT#0001", {"kind": "onboarding_event", "at": "2026-12-01T10:00:00Z"})
        put_item("u-1", "ONBOARDING#EVENT#0002", {"kind": "onboarding_event", "at": "2026-12-03T23:59:00Z"})
        put_item("u-1", "RATE#user_write#1", {"kind": "rate_counter", "count": 5})
        put_item("u-2", "ONBOARDING#PROGRESS", {"kind": "onboarding_progress", "flow_id": "g"})

        assert partition.kinds(TENANT, "u-1") == {"onboarding_progress": 1, "onboarding_event": 2, "rate_counter": 1}
        listed = partition.items(TENANT, "u-1")
        assert sorted(i["kind"] for i in listed) == [
            "onboarding_event",
            "onboarding_event",
            "onboarding_progress",
            "rate_counter",
        ]
        assert all("pk" not in i and "sk" not in i for i in listed)

        assert partition.delete(TENANT, "u-1") == 4
        assert partition.delete(TENANT, "u-1") == 0
        assert partition.items(TENANT, "u-1") == []
        assert partition.kinds(TENANT, "u-1") == {}
        assert partition.kinds(TENANT, "u-2") == {"onboarding_progress": 1}


DueWriter = Callable[[dict[str, str], str, date], None]
"""Puts an item at a key, and its retention entry (kind, due day), as a store's transaction does."""


class RetentionStoreContract:
    """Subclasses provide ``retention``, ``put_due`` and ``exists`` (whether an item is stored at a key)."""

    implementation: ClassVar[type]

    def test_what_is_due_on_a_day_is_listed_and_deleted_with_its_entries(
        self, retention: RetentionStorePort, put_due: DueWriter, exists: Callable[[dict[str, str]], bool]
    ) -> None:
        day = NOW.date()
        first, second = {"pk": "TENANT#t#DSR", "sk": "REQUEST#a"}, {"pk": "TENANT#t#DSR", "sk": "REQUEST#b"}
        later = {"pk": "TENANT#t#DSR", "sk": "REQUEST#c"}
        put_due(first, "privacy_request", day)
        put_due(second, "privacy_request", day)
        put_due(later, "privacy_request", day + timedelta(days=1))

        due = retention.due(day)
        assert sorted(key["sk"] for key, _ in due) == ["REQUEST#a", "REQUEST#b"]
        assert {kind for _, kind in due} == {"privacy_request"}
        retention.delete(day, due)

        assert retention.due(day) == []
        assert not exists(first) and not exists(second) and exists(later)
        assert [key["sk"] for key, _ in retention.due(day + timedelta(days=1))] == ["REQUEST#c"]
