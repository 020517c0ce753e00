"""Migrating users between two versions of a flow: the versions, the step map, the walks users took on version 1,
and what their progress must become."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from firstmile.onboarding import logic
from firstmile.onboarding.models import FlowVersion, Progress, StepAction, StepCommand, StepProgress, Transition
from firstmile.onboarding.ports import OnboardingStorePort

PATTERNS = 6

VERSION_1 = {
    "name": "Welcome",
    "steps": [
        {"id": "welcome", "title": "Say hello", "order": 0},
        {"id": "connect-data", "title": "Connect your data", "order": 1},
        {"id": "product-tour", "title": "Take the tour", "kind": "tutorial", "required": False, "order": 2},
        {"id": "build-workflow", "title": "Build a workflow", "order": 3},
        {"id": "invite-team", "title": "Invite your team", "required": False, "order": 4},
        {"id": "first-run", "title": "Run it", "kind": "milestone", "order": 5},
    ],
}
VERSION_2 = {
    "name": "Welcome",
    "steps": [
        {"id": "welcome", "title": "Say hello", "order": 0},
        {"id": "connect-source", "title": "Connect a source", "order": 1},
        {"id": "tour-editor", "title": "Tour the editor", "kind": "tutorial", "required": False, "order": 2},
        {"id": "tour-runs", "title": "Tour the runs", "kind": "tutorial", "required": False, "order": 3},
        {"id": "pick-template", "title": "Pick a template", "required": False, "order": 4},
        {"id": "first-success", "title": "Build and run a workflow", "order": 5},
    ],
}
STEP_MAP: list[dict[str, Any]] = [
    {"op": "rename", "from_step": "connect-data", "to_step": "connect-source"},
    {"op": "merge", "from_steps": ["build-workflow", "first-run"], "to_step": "first-success"},
    {"op": "split", "from_step": "product-tour", "to_steps": ["tour-editor", "tour-runs"]},
    {"op": "drop", "from_step": "invite-team"},
    {"op": "add", "to_step": "pick-template"},
]

Walk = list[tuple[str, StepAction]]
# What the users of each pattern did on version 1, step by step, then "complete" or "skip" as a whole (or not).
WALKS: dict[int, tuple[Walk, str | None]] = {
    0: ([], None),
    1: ([("welcome", StepAction.COMPLETE), ("connect-data", StepAction.START)], None),
    2: (
        [("welcome", StepAction.COMPLETE), ("connect-data", StepAction.COMPLETE), ("product-tour", StepAction.SKIP)],
        None,
    ),
    3: ([("welcome", StepAction.COMPLETE), ("invite-team", StepAction.COMPLETE)], None),
    4: (
        [
            ("welcome", StepAction.COMPLETE),
            ("connect-data", StepAction.COMPLETE),
            # Run before build: the merged step must take the earlier of the two.
            ("first-run", StepAction.COMPLETE),
            ("build-workflow", StepAction.COMPLETE),
        ],
        "complete",
    ),
    5: ([("welcome", StepAction.START)], "skip"),
}


def user_id(n: int) -> str:
    return f"u-{n:03d}"


def enrol_users(
    store: OnboardingStorePort, flow: FlowVersion, tenant: str, count: int, first: int = 0
) -> dict[str, Progress]:
    """``count`` users who walked ``flow`` (version 1 of ``welcome``) per their pattern, written transition by
    transition through the state machine, each step a few minutes after the one before; their stored progress."""
    gate = logic.flags_unavailable
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    walked: dict[str, Progress] = {}

    def write(transition: Transition) -> Progress:
        store.write_transition(transition)
        return transition.progress

    for n in range(first, first + count):
        user = user_id(n)
        at = start + timedelta(minutes=10 * n)
        steps, finish = WALKS[n % PATTERNS]
        progress = write(logic.enrol(tenant, user, flow, at))
        for minutes, (step_id, action) in enumerate(steps, start=1):
            command = StepCommand(step_id=step_id, action=action)
            progress = write(logic.apply_step(progress, flow, command, at + timedelta(minutes=minutes), gate))
        finished_at = at + timedelta(minutes=len(steps) + 1)
        if finish == "complete":
            progress = write(logic.complete_onboarding(progress, flow, finished_at, gate))
        elif finish == "skip":
            progress = write(logic.skip_onboarding(progress, flow, finished_at))
        assert store.get_progress(tenant, user) == progress
        walked[user] = progress
    return walked


def expected_steps(before: Progress) -> dict[str, StepProgress]:
    """Version 2's steps (those not not_started) for a user with ``before`` on version 1, along ``STEP_MAP``."""
    old = before.steps
    after: dict[str, StepProgress] = {}
    if "welcome" in old:
        after["welcome"] = old["welcome"]
    if "connect-data" in old:
        after["connect-source"] = old["connect-data"]
    if "product-tour" in old:
        after["tour-editor"] = after["tour-runs"] = old["product-tour"]
    merged = [old[s] for s in ("build-workflow", "first-run") if s in old]
    if merged:
        # "any": the most advanced state (all of them are completed in these walks), with its earliest timestamps.
        assert all(s.state.value == "completed" for s in merged)
        after["first-success"] = StepProgress(
            state=merged[0].state,
            started_at=min(s.started_at for s in merged if s.started_at),
            completed_at=min(s.completed_at for s in merged if s.completed_at),
        )
    return after


def without_not_started(steps: dict[str, StepProgress]) -> dict[str, StepProgress]:
    return {step_id: step for step_id, step in steps.items() if step.state.value != "not_started"}


def assert_migrated(before: Progress, after: Progress | None, migration_id: str, last_event: str) -> None:
    """``after`` is ``before`` moved to version 2 by ``migration_id``: its steps mapped by the step map, its state,
    timestamps, milestones and sample marks kept, one progress version more, and ``migrated`` its newest event."""
    assert after is not None
    assert (after.flow_id, after.flow_version, after.migrations) == ("welcome", 2, [migration_id])
    assert without_not_started(after.steps) == expected_steps(before), before.user
    carried = ("state", "completed_at", "skipped_at", "enrolled_at", "milestones", "sample", "expires_at")
    assert {name: getattr(after, name) for name in carried} == {name: getattr(before, name) for name in carried}
    assert after.version == before.version + 1
    assert last_event == "migrated"
