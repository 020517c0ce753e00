"""Sample users on the in-memory onboarding store: each walks the real state machine with a plausible history, tagged
``sample`` and expiring; the audit entry goes with the first enrolment. The route and the items as the table keeps
them stay in tests/integration/test_onboarding_admin_routes.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile.errors import DependencyUnavailableError
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.models import DefaultFlowUpdate, FlowCreate, SampleUsersCreated, SampleUsersRequest
from firstmile.onboarding.samples import SampleUsers
from firstmile.onboarding.versions import PublishedVersions
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore

TENANT, ACTOR = "t-acme", "admin:u-admin"
NOW = datetime(2027, 1, 15, 9, tzinfo=UTC)
FLOW: dict[str, Any] = {
    "flow_id": "welcome",
    "name": "Welcome to Acme",
    "steps": [
        {"id": "welcome", "title": "Say hello", "order": 0},
        {"id": "product-tour", "title": "Take the tour", "kind": "tutorial", "required": False, "order": 1},
        {"id": "connect-data", "title": "Connect your data", "order": 2},
    ],
}


@pytest.fixture
def store() -> FakeOnboardingStore:
    return FakeOnboardingStore(audit=FakeAuditLog())


@pytest.fixture
def service(store: FakeOnboardingStore) -> SampleUsers:
    """A published default flow, and a service whose sample users live a week."""
    versions = PublishedVersions(store)
    flows = FlowAdmin(store, versions, clock=lambda: NOW)
    flows.create_flow(TENANT, FlowCreate.model_validate(FLOW), ACTOR)
    flows.publish(TENANT, "welcome", None, ACTOR)
    flows.set_default(TENANT, DefaultFlowUpdate(flow_id="welcome"), ACTOR)
    return SampleUsers(store, versions, clock=lambda: NOW, ttl_days=7)


def outcomes_of(store: FakeOnboardingStore, created: SampleUsersCreated) -> dict[str, int]:
    ended = dict.fromkeys(created.outcomes, 0)
    for user in created.users:
        progress = store.get_progress(TENANT, user)
        assert progress is not None
        ended[progress.state.value] += 1
    return ended


def test_sample_users_walk_the_flow_and_are_tagged_and_expiring(
    service: SampleUsers, store: FakeOnboardingStore
) -> None:
    # When an admin generates twelve sample users
    created = service.create(TENANT, SampleUsersRequest(count=12, seed=3), ACTOR)

    # Then twelve distinct users exist, their outcomes add up, and they expire with the sample lifetime
    assert len(set(created.users)) == 12
    assert (created.flow_id, created.flow_version) == ("welcome", 1)
    assert set(created.outcomes) == {"in_progress", "completed", "skipped"}
    assert sum(created.outcomes.values()) == 12
    assert created.expires_at == NOW + timedelta(days=7)

    # And each one's progress and events are tagged sample, begin within the last week, and end as the outcomes say
    for user in created.users:
        progress = store.get_progress(TENANT, user)
        assert progress is not None and progress.sample is True
        assert progress.expires_at == int(created.expires_at.timestamp())
        assert NOW - timedelta(days=7) < progress.enrolled_at <= progress.updated_at <= NOW
        events = store.list_events(TENANT, user)
        assert events and events[0].type.value == "enrolled"
        assert all(event.sample for event in events)
        assert [event.progress_version for event in events] == sorted(event.progress_version for event in events)
    assert outcomes_of(store, created) == created.outcomes


def test_the_same_seed_repeats_the_walks_with_new_users(service: SampleUsers, store: FakeOnboardingStore) -> None:
    first = service.create(TENANT, SampleUsersRequest(count=10, seed=42), ACTOR)
    again = service.create(TENANT, SampleUsersRequest(count=10, seed=42), ACTOR)

    assert set(first.users).isdisjoint(again.users)
    assert first.outcomes == again.outcomes
    walks = [
        [[e.type.value for e in store.list_events(TENANT, user)] for user in created.users]
        for created in (first, again)
    ]
    assert walks[0] == walks[1]


def test_the_audit_entry_goes_with_the_first_sample_user(service: SampleUsers, store: FakeOnboardingStore) -> None:
    service.create(TENANT, SampleUsersRequest(count=5, seed=1), ACTOR)

    [entry] = [e for e in store.audit.entries(TENANT) if e.action == "onboarding.sample_users.created"]
    assert (entry.actor, entry.target, entry.details["count"], entry.details["version"]) == (
        ACTOR,
        "flow:welcome",
        "5",
        "1",
    )


def test_a_failure_part_way_leaves_the_users_written_so_far_and_the_entry(
    service: SampleUsers, store: FakeOnboardingStore
) -> None:
    # Given a store that becomes unavailable after the first sample user's enrolment
    store.faults.unavailable("write_transition", after=1, times=1_000)

    # When sample users are generated
    with pytest.raises(DependencyUnavailableError):
        service.create(TENANT, SampleUsersRequest(count=5, seed=1), ACTOR)

    # Then the one user enrolled is a sample that expires like the others, and the entry was written with it
    users = [user for tenant, user in store.users() if tenant == TENANT]
    assert len(users) == 1
    progress = store.get_progress(TENANT, users[0])
    assert (
        progress is not None and progress.sample and progress.expires_at == int((NOW + timedelta(days=7)).timestamp())
    )
    assert [e.action for e in store.audit.entries(TENANT)][-1] == "onboarding.sample_users.created"
