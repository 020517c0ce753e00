"""Every onboarding event carries what analytics counts it by (decision 0070): the user's enrolment time, the segment
values their enrolment kept from the caller's attributes, and their analytics opt-out. So the aggregator counts each
event from the event alone, in whatever order the stream delivers them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firstmile.onboarding import logic
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.models import (
    DefaultFlowUpdate,
    EventType,
    FlowCreate,
    RestartRequest,
    StepAction,
    StepCommand,
)
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from tests.fakes.onboarding import FakeOnboardingStore

TENANT, USER, ACTOR = "t-acme", "u-1", "admin:u-admin"
ENROLLED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FLOW = {
    "flow_id": "welcome",
    "name": "Welcome",
    "steps": [
        {"id": "profile", "title": "Profile", "order": 0},
        {"id": "invite", "title": "Invite", "order": 1, "required": False},
    ],
}


class Clock:
    def __init__(self) -> None:
        self.now = ENROLLED_AT

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> FakeOnboardingStore:
    return FakeOnboardingStore()


@pytest.fixture
def services(store: FakeOnboardingStore, clock: Clock) -> tuple[ProgressService, FlowAdmin]:
    versions = PublishedVersions(store)
    flows = FlowAdmin(store, versions, clock=clock)
    flows.create_flow(TENANT, FlowCreate.model_validate(FLOW), ACTOR)
    flows.publish(TENANT, "welcome", None, ACTOR)
    flows.set_default(TENANT, DefaultFlowUpdate(flow_id="welcome"), ACTOR)
    return ProgressService(store, versions, clock=clock), flows


def test_the_enrolment_keeps_the_segment_attributes_and_every_event_carries_them(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore, clock: Clock
) -> None:
    # Given a caller whose token attributes name a country, a plan, a locale that is not a plain token, and others
    users, _ = services
    attributes = {
        "country": "DE",
        "plan": "pro",
        "locale": "de DE; drop",
        "email": "a@example.com",
        "returning": "false",
    }

    # When their first call enrols them, and a day later they complete a step
    users.status(TENANT, USER, attributes=attributes)
    clock.now = ENROLLED_AT + timedelta(days=1)
    users.step(TENANT, USER, StepCommand(step_id="profile", action=StepAction.COMPLETE), None, attributes={})

    # Then the progress keeps the segment values that are plain tokens of the segment attributes, and nothing else
    progress = store.get_progress(TENANT, USER)
    assert progress is not None
    assert progress.segment == {"country": "DE", "plan": "pro", "returning": "false"}
    # ...and every event carries them, with the enrolment time (so the step's time to reach is one subtraction)
    events = store.list_events(TENANT, USER)
    assert [e.type for e in events] == [EventType.ENROLLED, EventType.STEP_COMPLETED]
    assert all(e.segment == progress.segment for e in events)
    assert all(e.enrolled_at == ENROLLED_AT for e in events)
    assert all(e.analytics_opt_out is False for e in events)
    assert events[1].at - events[1].enrolled_at == timedelta(days=1)


def test_a_restarted_user_counts_as_returning_from_then_on(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore, clock: Clock
) -> None:
    # Given an enrolled first-time user
    users, flows = services
    users.status(TENANT, USER, attributes={"country": "FR"})

    # When an admin restarts them a week later
    clock.now = ENROLLED_AT + timedelta(days=7)
    flows.restart_user(TENANT, USER, RestartRequest(), ACTOR)

    # ...and they complete a step an hour after that
    clock.now += timedelta(hours=1)
    users.step(TENANT, USER, StepCommand(step_id="profile", action=StepAction.COMPLETE), None, attributes={})

    # Then their restart event, and the events after it, carry returning=true and the new enrolment time
    restarted, completed = store.list_events(TENANT, USER)[-2:]
    assert (restarted.type, completed.type) == (EventType.RESTARTED, EventType.STEP_COMPLETED)
    for event in (restarted, completed):
        assert event.segment == {"country": "FR", "returning": "true"}
        assert event.enrolled_at == ENROLLED_AT + timedelta(days=7)


def test_a_step_taken_up_after_a_skip_says_so(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore
) -> None:
    users, _ = services
    skip = StepCommand(step_id="invite", action=StepAction.SKIP)
    complete = StepCommand(step_id="invite", action=StepAction.COMPLETE)
    users.step(TENANT, USER, skip, None)
    users.step(TENANT, USER, complete, None)

    skipped, completed = store.list_events(TENANT, USER)[-2:]
    assert (skipped.details, completed.details) == ({}, {"was": "skipped"})


@pytest.mark.parametrize(
    ("attributes", "kept"),
    [
        ({}, {}),
        ({"country": "US", "locale": "en-US", "plan": "free", "returning": "true"}, None),
        ({"returning": "TRUE"}, {"returning": "true"}),
        ({"returning": "yes"}, {}),
        ({"country": "", "plan": "x" * 65}, {}),
        ({"country": "DE\n", "plan": "team/large"}, {}),
        ({"user_id": "u-1", "email": "a@example.com"}, {}),
    ],
)
def test_only_short_plain_values_of_the_segment_attributes_are_kept(
    attributes: dict[str, str], kept: dict[str, str] | None
) -> None:
    assert logic.segment_of(attributes) == (attributes if kept is None else kept)
