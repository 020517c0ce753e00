"""Every onboarding event carries what analytics counts it by (decision 0070): the user's enrolment time, the segment
values their enrolment kept from the caller's attributes, and their analytics opt-out. So the aggregator counts each
event from the event alone, in whatever order the stream delivers them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firstmile.onboarding import logic
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.models import (
    EventType,
    RestartRequest,
    StepAction,
    StepCommand,
)
from firstmile.onboarding.progress import ProgressService
from tests.fakes.onboarding import FakeOnboardingStore
from tests.unit.onboarding.users import ACTOR, ENROLLED_AT, TENANT, USER, Clock


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
    # ...and the version they enrolled on, which a migration keeps (analytics counts them there)
    assert progress.enrolled_version == progress.flow_version
    assert all(e.enrolled_version == progress.flow_version for e in events)
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


FIRST_TIME = {"returning": "false"}


@pytest.mark.parametrize(
    ("attributes", "kept"),
    [
        ({}, FIRST_TIME),
        ({"country": "US", "locale": "en-US", "plan": "free", "returning": "true"}, None),
        ({"returning": "TRUE"}, {"returning": "true"}),
        ({"returning": "yes"}, FIRST_TIME),
        ({"country": "", "plan": "x" * 65}, FIRST_TIME),
        ({"country": "DE\n", "plan": "team/large"}, FIRST_TIME),
        ({"user_id": "u-1", "email": "a@example.com"}, FIRST_TIME),
    ],
)
def test_only_short_plain_values_of_the_segment_attributes_are_kept_and_everyone_is_first_time_or_returning(
    attributes: dict[str, str], kept: dict[str, str] | None
) -> None:
    assert logic.segment_of(attributes) == (attributes if kept is None else kept)
