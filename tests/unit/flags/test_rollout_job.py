"""The rollout job on the in-memory stores: waiting out each step's dwell, advancing step by step (each a new flag
version with its history and audit entry) and completing; a missed schedule; the guard halting a plan whose users
convert worse than those out of it (the percentage rolled back in the same change, the reading kept, the audit entry
and the alarm metric); a step whose answer was lost; cancelling; and a rule changed by hand or a flag archived
ending the plan. The admin routes and the scheduled function stay in tests/integration/test_flags_rollout.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile import errors as e
from firstmile.audit.models import AuditEntry, AuditFilter
from firstmile.flags.admin import FlagAdmin
from firstmile.flags.models import Flag
from firstmile.flags.rollout import RolloutPlan, RolloutPlanRequest
from firstmile.flags.rollouts import Rollouts as RolloutService
from firstmile.flags.store import FlagConflictError
from firstmile.observability import metrics
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.models import DefaultFlowUpdate, FlowCreate, StepAction, StepCommand
from firstmile.onboarding.participants import RecentParticipants
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from tests.fakes.audit import FakeAuditLog
from tests.fakes.flags import FakeFlagStore
from tests.fakes.onboarding import FakeOnboardingStore
from tests.scenarios.rollout import (
    ADMIN,
    DWELL,
    FLOW,
    JOB,
    KEY,
    STEPS,
    TENANT,
    flag_body,
    plan_body,
    rule_percentage,
    users_of_arm,
)

T0 = datetime(2027, 1, 15, 9, tzinfo=UTC)


@dataclass
class Clock:
    """One clock for the admin, the users and the job: it moves only when the test says so."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class LossyFlagStore(FakeFlagStore):
    """A store that, once told to, applies flag writes but loses their answers and refuses the resends: what the
    SDK's retry after a timeout looks like from the caller."""

    losing_answers = False

    def replace_flag(self, *args: Any, **kwargs: Any) -> Flag:
        stored = super().replace_flag(*args, **kwargs)
        if self.losing_answers:
            raise FlagConflictError(stored)
        return stored


@dataclass
class Rollouts:
    """A tenant's flags and onboarding over in-memory stores sharing one audit log, and the job's service."""

    clock: Clock
    audit: FakeAuditLog
    flags: LossyFlagStore
    progress: FakeOnboardingStore
    flows: FlowAdmin
    users: ProgressService
    admin: FlagAdmin
    service: RolloutService

    def create_flag(self, percentage: float = 0) -> Flag:
        return self.admin.create_flag(TENANT, Flag.model_validate(flag_body(KEY, percentage)), ADMIN)

    def flag(self) -> dict[str, Any]:
        flag = self.flags.get_flag(TENANT, KEY)
        assert flag is not None
        return flag.model_dump(mode="json")

    def start(self, body: dict[str, Any] | None = None) -> RolloutPlan:
        return self.service.start_plan(TENANT, KEY, RolloutPlanRequest.model_validate(body or plan_body()), ADMIN)

    def plan(self) -> RolloutPlan:
        return self.service.get_plan(TENANT, KEY)

    def history(self) -> list[dict[str, Any]]:
        page = self.admin.history(TENANT, KEY, limit=100, cursor=None)
        return [entry.model_dump(mode="json") for entry in page.items]

    def entries(self, action: str) -> list[AuditEntry]:
        entries = self.audit.list_entries(TENANT, AuditFilter(action=action), limit=100).items
        return sorted(entries, key=lambda entry: entry.sequence)

    def publish_flow(self) -> None:
        """A published default flow of one required step."""
        body = {"flow_id": FLOW, "name": "Welcome", "steps": [{"id": "hello", "title": "Say hello", "order": 0}]}
        self.flows.create_flow(TENANT, FlowCreate.model_validate(body), ADMIN)
        self.flows.publish(TENANT, FLOW, None, ADMIN)
        self.flows.set_default(TENANT, DefaultFlowUpdate(flow_id=FLOW), ADMIN)

    def enrol(self, users: list[str], *, complete: bool) -> None:
        """Users' first onboarding call (it enrols them), and for ``complete`` their step and completion."""
        for user in users:
            self.users.status(TENANT, user)
            if complete:
                self.users.step(TENANT, user, StepCommand(step_id="hello", action=StepAction.COMPLETE), None)
                self.users.complete(TENANT, user, None)


@pytest.fixture
def rollouts() -> Iterator[Rollouts]:
    clock = Clock(T0)
    audit = FakeAuditLog(clock=lambda: clock.now.timestamp())
    flags, progress = LossyFlagStore(audit=audit), FakeOnboardingStore(audit=audit)
    versions = PublishedVersions(progress)
    # The guard reads users through onboarding's own reader, over the in-memory onboarding store.
    service = RolloutService(flags, participants=RecentParticipants(progress), clock=clock)
    metrics.clear_metrics()
    yield Rollouts(
        clock,
        audit,
        flags,
        progress,
        FlowAdmin(progress, versions, clock=clock),
        ProgressService(progress, versions, clock=clock),
        FlagAdmin(flags, clock=clock),
        service,
    )
    metrics.clear_metrics()


# --- the job ------------------------------------------------------------------------------------------------


def test_the_job_advances_each_step_after_its_dwell_and_completes_the_plan(rollouts: Rollouts) -> None:
    # Given a plan of four steps held an hour each, just started
    rollouts.create_flag()
    rollouts.start()
    clock, job = rollouts.clock, rollouts.service

    for step, percentage in enumerate(STEPS[1:], start=1):
        # When the job checks it a minute before the step's dwell is over
        clock.advance(minutes=DWELL - 1)
        assert job.run_rollouts() == {"wait": 1}

        # Then nothing moved
        assert rule_percentage(rollouts.flag()) == STEPS[step - 1]
        assert rollouts.plan().step_index == step - 1

        # When it checks once the dwell is over
        clock.advance(minutes=1)
        assert job.run_rollouts() == {"advance": 1}

        # Then the rule is at the next step as a new version of the flag, by the job, with its history
        flag = rollouts.flag()
        assert (flag["version"], rule_percentage(flag)) == (2 + step, percentage)
        latest = rollouts.history()[0]
        assert (latest["version"], latest["changed_by"]) == (2 + step, JOB)
        assert datetime.fromisoformat(latest["changed_at"]) == clock.now
        assert [rule_percentage({"rules": latest["diff"][0][side]}) for side in ("before", "after")] == [
            STEPS[step - 1],
            percentage,
        ]
        # And the plan's step started now
        moved = rollouts.plan()
        assert (moved.status.value, moved.step_index, moved.step_started_at) == ("active", step, clock.now)
        # And the advance is audited
        assert float(rollouts.entries("flag.rollout.advanced")[-1].details["percentage"]) == percentage

    assert [entry.actor for entry in rollouts.entries("flag.rollout.advanced")] == [JOB] * 3

    # When the last step (100%) has been held for its dwell
    clock.advance(minutes=DWELL - 1)
    assert job.run_rollouts() == {"wait": 1}
    clock.advance(minutes=1)
    assert job.run_rollouts() == {"complete": 1}

    # Then the plan is completed, no longer listed for the job, and the flag stays at 100% (no new version)
    done = rollouts.plan()
    assert (done.status.value, done.step_index, done.ended_reason) == (
        "completed",
        3,
        "the last step held for its dwell",
    )
    assert rollouts.flags.active_plans() == []
    flag = rollouts.flag()
    assert (flag["version"], rule_percentage(flag)) == (5, 100)
    assert [entry["changed_by"] for entry in rollouts.history()] == [JOB, JOB, JOB, ADMIN, ADMIN]
    [completed] = rollouts.entries("flag.rollout.completed")
    assert completed.actor == JOB

    # And later checks leave it alone, and a cancellation is refused
    clock.advance(days=1)
    assert job.run_rollouts() == {}
    with pytest.raises(e.DomainError) as ended:
        rollouts.service.cancel_plan(TENANT, KEY, ADMIN)
    assert ended.value.code == "BIZ_ROLLOUT_ENDED"


def test_a_missed_schedule_advances_one_step_per_check_never_skipping_a_dwell(rollouts: Rollouts) -> None:
    # Given a plan whose job did not run for a day
    rollouts.create_flag()
    rollouts.start()
    rollouts.clock.advance(days=1)

    # When it runs again, twice in the same minute
    assert rollouts.service.run_rollouts() == {"advance": 1}
    assert rollouts.service.run_rollouts() == {"wait": 1}

    # Then the plan moved one step: the next one is held for its own dwell
    assert rule_percentage(rollouts.flag()) == 5
    assert rollouts.plan().step_index == 1


# --- the guard ----------------------------------------------------------------------------------------------


def test_the_guard_halts_a_plan_whose_users_convert_worse_and_rolls_the_percentage_back(rollouts: Rollouts) -> None:
    # Given a published flow, and users in what will be the rollout who completed it before the plan started
    rollouts.publish_flow()
    threshold = round(STEPS[0] * 1000)
    rollouts.enrol(users_of_arm(True, threshold, 3, "early"), complete=True)
    rollouts.clock.advance(minutes=1)

    # And a flag whose rule is at 0.5%, rolled out with a guard on that flow
    rollouts.create_flag(percentage=0.5)
    guard = {"flow_id": FLOW, "max_drop_points": 20, "min_users_per_arm": 4, "max_users": 100}
    plan = rollouts.start(plan_body(guard=guard))
    assert plan.guard is not None and plan.guard.metric == "onboarding_conversion"

    # And, since the plan started, users in the rollout who do not complete and users out of it who do
    rollouts.clock.advance(minutes=1)
    rollouts.enrol(users_of_arm(True, threshold, 4, "late"), complete=False)
    rollouts.enrol(users_of_arm(False, threshold, 4, "late"), complete=True)

    # When the job checks the plan a minute later, long before the step's dwell is over
    rollouts.clock.advance(minutes=1)
    assert rollouts.service.run_rollouts() == {"halt": 1}
    emitted = {name: metric["Value"] for name, metric in metrics.metric_set.items()}

    # Then the plan is halted with the reading that breached: the earlier users not counted
    halted = rollouts.plan()
    assert (halted.status.value, halted.step_index) == ("halted", 0)
    reading = halted.last_reading
    assert reading is not None
    assert (reading.users_in, reading.converted_in, reading.users_out, reading.converted_out) == (4, 0, 4, 4)
    assert (reading.rate_in, reading.rate_out, reading.sufficient, reading.breached) == (0, 100, True, True)
    assert halted.ended_reason is not None
    assert "0.0%" in halted.ended_reason and "100.0%" in halted.ended_reason
    assert rollouts.flags.active_plans() == []

    # And the rule is back at 0.5%, as a new version by the job
    flag = rollouts.flag()
    assert (flag["version"], rule_percentage(flag)) == (3, 0.5)
    latest = rollouts.history()[0]
    assert (latest["changed_by"], rule_percentage({"rules": latest["diff"][0]["before"]})) == (JOB, 1)

    # And the halt is audited, and the alarm's metric emitted
    [entry] = rollouts.entries("flag.rollout.halted")
    assert (entry.actor, entry.target, float(entry.details["percentage"])) == (JOB, f"flag:{KEY}", 0.5)
    assert entry.details["reason"] == halted.ended_reason
    assert emitted == {"FlagRolloutHalted": [1.0]}

    # And later checks leave the flag alone
    assert rollouts.service.run_rollouts() == {}
    assert rollouts.flag()["version"] == 3


def test_the_guard_still_sees_the_new_users_of_a_flow_with_many_earlier_ones(rollouts: Rollouts) -> None:
    # Given a flow with more earlier users than the guard reads (ids sorting before the later ones): the reader goes
    # in enrolment order from the step's start, so they cost nothing and hide nobody
    rollouts.publish_flow()
    rollouts.enrol([f"a-{n:02d}" for n in range(10)], complete=False)
    rollouts.clock.advance(minutes=1)
    rollouts.create_flag()
    guard = {"flow_id": FLOW, "max_drop_points": 20, "min_users_per_arm": 4, "max_users": 10}
    rollouts.start(plan_body(guard=guard))

    # And, since the plan started, users in the rollout who do not complete and users out of it who do
    rollouts.clock.advance(minutes=1)
    rollouts.enrol(users_of_arm(True, 1_000, 4, "late"), complete=False)
    rollouts.enrol(users_of_arm(False, 1_000, 4, "late"), complete=True)

    # When the job checks the plan, Then the guard halts it, as it does for a flow without earlier users
    rollouts.clock.advance(minutes=1)
    assert rollouts.service.run_rollouts() == {"halt": 1}


def test_a_guard_without_enough_users_lets_the_plan_advance_and_keeps_its_reading(rollouts: Rollouts) -> None:
    # Given a guarded plan and too few users in the rollout to judge (one, not converting)
    rollouts.publish_flow()
    rollouts.create_flag()
    guard = {"flow_id": FLOW, "max_drop_points": 5, "min_users_per_arm": 3, "max_users": 100}
    rollouts.start(plan_body(guard=guard))
    rollouts.enrol(users_of_arm(True, 1_000, 1, "late"), complete=False)
    rollouts.enrol(users_of_arm(False, 1_000, 3, "late"), complete=True)
    rollouts.clock.advance(minutes=1)

    # When the job checks it during the dwell, then after
    assert rollouts.service.run_rollouts() == {"wait": 1}
    waiting = rollouts.plan()
    rollouts.clock.advance(minutes=DWELL)
    assert rollouts.service.run_rollouts() == {"advance": 1}

    # Then each check kept its reading (insufficient, no breach), and the plan moved on
    assert waiting.last_reading is not None
    assert (waiting.last_reading.sufficient, waiting.last_reading.breached) == (False, False)
    assert (waiting.last_reading.users_in, waiting.last_reading.users_out) == (1, 3)
    assert waiting.version == 2
    moved = rollouts.plan()
    assert (moved.status.value, moved.step_index, moved.version) == ("active", 1, 3)
    assert moved.last_reading is not None and moved.last_reading.at == rollouts.clock.now
    assert rule_percentage(rollouts.flag()) == 5


def test_a_guard_whose_users_cannot_be_read_fails_the_check_and_leaves_the_plan(rollouts: Rollouts) -> None:
    # Given a guarded plan, and the onboarding store unreachable when the job reads the guard's users
    rollouts.publish_flow()
    rollouts.create_flag()
    rollouts.start(plan_body(guard={"flow_id": FLOW, "min_users_per_arm": 1, "max_users": 10}))
    started = rollouts.plan()
    rollouts.progress.faults.unavailable("list_enrolments")
    rollouts.clock.advance(minutes=DWELL)

    # When the job runs, Then it fails (the schedule retries it) and the plan and flag are as they were
    with pytest.raises(RuntimeError, match="1 rollout checks failed"):
        rollouts.service.run_rollouts()
    assert rollouts.plan() == started
    assert rule_percentage(rollouts.flag()) == STEPS[0]


# --- lost answers, cancelling, and changes made by hand -----------------------------------------------------


def test_a_step_that_applied_but_whose_answer_was_lost_counts_as_done(rollouts: Rollouts) -> None:
    # Given a plan past its first dwell, and a store that loses the answer of the step's transaction
    rollouts.create_flag()
    rollouts.start()
    rollouts.clock.advance(minutes=DWELL)
    rollouts.flags.losing_answers = True

    # When the job advances it, the refusal of its own resent step is recognised as success
    assert rollouts.service.run_rollouts() == {"advance": 1}
    assert rollouts.plan().step_index == 1
    assert rule_percentage(rollouts.flag()) == 5

    # And a step refused without having applied (another writer came first) is still a failure, and changes nothing
    rollouts.flags.losing_answers = False
    rollouts.flags.faults.conflict("replace_flag")
    rollouts.clock.advance(minutes=DWELL)
    with pytest.raises(RuntimeError, match="1 rollout checks failed"):
        rollouts.service.run_rollouts()
    assert rollouts.plan().step_index == 1
    assert rule_percentage(rollouts.flag()) == 5


def test_cancelling_stops_the_plan_where_it_stands(rollouts: Rollouts) -> None:
    # Given a plan on its second step (5%)
    rollouts.create_flag()
    rollouts.start()
    rollouts.clock.advance(minutes=DWELL)
    assert rollouts.service.run_rollouts() == {"advance": 1}

    # When an admin cancels it
    cancelled = rollouts.service.cancel_plan(TENANT, KEY, ADMIN)

    # Then it is cancelled, by them, and the rule keeps its percentage (no new flag version)
    assert (cancelled.status.value, cancelled.step_index, cancelled.ended_reason) == (
        "cancelled",
        1,
        f"cancelled by {ADMIN}",
    )
    assert rollouts.plan() == cancelled
    flag = rollouts.flag()
    assert (flag["version"], rule_percentage(flag)) == (3, 5)
    assert rollouts.flags.active_plans() == []
    [entry] = rollouts.entries("flag.rollout.cancelled")
    assert (entry.actor, entry.details["step"]) == (ADMIN, "2")

    # And the job no longer moves it
    rollouts.clock.advance(days=1)
    assert rollouts.service.run_rollouts() == {}
    assert rollouts.flag()["version"] == 3

    # And cancelling again is refused
    with pytest.raises(e.DomainError) as again_cancelled:
        rollouts.service.cancel_plan(TENANT, KEY, ADMIN)
    assert again_cancelled.value.code == "BIZ_ROLLOUT_ENDED"

    # And a new plan can start, from where the rule is now
    again = rollouts.start(plan_body([10, 100]))
    assert (again.status.value, again.initial_percentage, again.version) == ("active", 5, cancelled.version + 1)
    assert rule_percentage(rollouts.flag()) == 10


def test_a_rule_changed_by_hand_during_a_plan_ends_the_plan_and_keeps_the_change(rollouts: Rollouts) -> None:
    # Given a plan on its first step (1%)
    rollouts.create_flag()
    rollouts.start()

    # When an admin sets the rule back to 0% with an ordinary edit of the flag
    rollouts.admin.update_flag(TENANT, KEY, Flag.model_validate(flag_body(KEY, 0)), 2, ADMIN)

    # And the job checks the plan once the step's dwell is over
    rollouts.clock.advance(minutes=DWELL)
    assert rollouts.service.run_rollouts() == {"abandon": 1}

    # Then the plan ends without raising the rule to the next step: the admin's 0% stands
    ended = rollouts.plan()
    assert ended.status.value == "halted"
    assert ended.ended_reason is not None and "outside the plan" in ended.ended_reason
    flag = rollouts.flag()
    assert (flag["version"], rule_percentage(flag)) == (3, 0)
    assert rollouts.flags.active_plans() == []
    [entry] = rollouts.entries("flag.rollout.abandoned")
    assert entry.actor == JOB


def test_a_plan_whose_flag_was_archived_is_abandoned(rollouts: Rollouts) -> None:
    # Given a plan, and its flag archived
    rollouts.create_flag()
    rollouts.start()
    rollouts.admin.archive_flag(TENANT, KEY, 2, ADMIN)

    # When the job checks it
    rollouts.clock.advance(minutes=1)
    assert rollouts.service.run_rollouts() == {"abandon": 1}

    # Then the plan ended and the archived flag was not touched
    assert rollouts.plan().status.value == "halted"
    flag = rollouts.flag()
    assert (flag["version"], flag["archived"]) == (3, True)
    assert rollouts.flags.active_plans() == []
