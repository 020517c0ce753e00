"""Users who stopped (decision 0072): the daily job finds users idle longer than their tenant's window in the idle
index, its worker drops them at the step they stopped at, and their next change says they returned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.idle import DROP_BATCH, IdleUsers
from firstmile.onboarding.models import EventType, OnboardingSettings, StepAction, StepCommand
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from tests.fakes.onboarding import FakeOnboardingStore
from tests.unit.onboarding.users import ACTOR, ENROLLED_AT, TENANT, Clock, counted


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, messages: list[dict[str, Any]]) -> None:
        self.sent += messages


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def idle(store: FakeOnboardingStore, clock: Clock, queue: Queue) -> IdleUsers:
    return IdleUsers(store, PublishedVersions(store), queue, clock=clock)


def walk(users: ProgressService, user: str, *steps: tuple[str, StepAction]) -> None:
    users.status(TENANT, user)
    for step, action in steps:
        users.step(TENANT, user, StepCommand(step_id=step, action=action), None)


def test_users_idle_longer_than_the_window_are_dropped_where_they_stopped(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore, clock: Clock, idle: IdleUsers, queue: Queue
) -> None:
    # Given three users: one stopped after the profile, one finished the required step and stopped, one active
    users, _ = services
    walk(users, "u-stopped")
    walk(users, "u-profile", ("profile", StepAction.COMPLETE))
    clock.now = ENROLLED_AT + timedelta(days=6)
    walk(users, "u-active", ("profile", StepAction.START))

    # When the job runs 8 days after the first two last changed anything (the window is 7 days)
    clock.now = ENROLLED_AT + timedelta(days=8)
    found = idle.find()

    # Then the two idle users are queued, the active one is not
    assert found == {"listed": 3, "due": 2, "messages": 1}
    assert queue.sent == [
        {
            "tenant": TENANT,
            "users": ["u-profile", "u-stopped"],
            "idle_before": (clock.now - timedelta(days=7)).date().isoformat(),
        }
    ]

    # When the worker handles the message
    assert idle.drop(queue.sent[0]) == {"dropped": 2, "kept": 0}

    # Then each is dropped at the step they stopped at: the required profile, or, with it done, the optional invite
    stopped, profile = store.get_progress(TENANT, "u-stopped"), store.get_progress(TENANT, "u-profile")
    assert stopped is not None and profile is not None
    assert (stopped.dropped_step, profile.dropped_step) == ("profile", "invite")
    event = store.list_events(TENANT, "u-stopped")[-1]
    assert (event.type, event.details) == (EventType.DROPPED, {"idle_days": 8})
    assert counted(event) == ("profile", {"dropped": 1})
    # And a message delivered again drops nobody twice
    assert idle.drop(queue.sent[0]) == {"dropped": 0, "kept": 2}
    # And the dropped users have left the idle index: the next run queues nobody
    queue.sent.clear()
    assert idle.find()["due"] == 0


@pytest.fixture
def listed(services: tuple[ProgressService, FlowAdmin], clock: Clock, idle: IdleUsers) -> ProgressService:
    """A user who enrolled and did nothing, listed by the job nine days later; the user's service."""
    users, _ = services
    walk(users, "u-1")
    clock.now = ENROLLED_AT + timedelta(days=9)
    idle.find()
    return users


def test_a_dropped_user_who_changes_anything_has_returned(
    listed: ProgressService, store: FakeOnboardingStore, clock: Clock, idle: IdleUsers, queue: Queue
) -> None:
    # Given a user dropped at the profile
    users = listed
    idle.drop(queue.sent[0])

    # When they come back and complete the profile
    clock.now += timedelta(days=3)
    users.step(TENANT, "u-1", StepCommand(step_id="profile", action=StepAction.COMPLETE), None)

    # Then the change first says they returned (taking the drop back), then what they did, and they are no longer
    # dropped
    back, completed = store.list_events(TENANT, "u-1")[-2:]
    assert (back.type, back.step_id, completed.type) == (EventType.RETURNED, "profile", EventType.STEP_COMPLETED)
    progress = store.get_progress(TENANT, "u-1")
    assert progress is not None and (progress.dropped_at, progress.dropped_step) == (None, None)
    # ...which analytics counts as one drop fewer at the profile
    assert counted(back) == ("profile", {"dropped": -1})


def test_a_user_who_came_back_after_the_listing_is_left_alone(
    listed: ProgressService, store: FakeOnboardingStore, idle: IdleUsers, queue: Queue
) -> None:
    listed.step(TENANT, "u-1", StepCommand(step_id="profile", action=StepAction.START), None)

    assert idle.drop(queue.sent[0]) == {"dropped": 0, "kept": 1}
    assert store.list_events(TENANT, "u-1")[-1].type == EventType.STEP_STARTED


def test_the_window_is_the_tenants_and_messages_hold_a_batch_of_users(
    services: tuple[ProgressService, FlowAdmin], clock: Clock, idle: IdleUsers, queue: Queue
) -> None:
    users, _ = services
    for n in range(DROP_BATCH + 1):
        walk(users, f"u-{n:02d}")
    idle.set_settings(TENANT, OnboardingSettings(idle_days=30), ACTOR)

    # Eight days on, nobody is idle longer than 30 days; 31 days on, everybody, in two messages
    clock.now = ENROLLED_AT + timedelta(days=8)
    assert idle.find()["due"] == 0
    clock.now = ENROLLED_AT + timedelta(days=31)
    assert idle.find() == {"listed": DROP_BATCH + 1, "due": DROP_BATCH + 1, "messages": 2}
    assert [len(m["users"]) for m in queue.sent] == [DROP_BATCH, 1]
    assert idle.settings(TENANT).idle_days == 30
