"""Progressive rollouts against the emulator: the admin routes through their real handlers, and the scheduled job
driven by a clock the test moves.

Covered: starting a plan (the rule moves to the first step at once, as a new flag version), reading it, refusing a
second active plan and an unknown rule; the job waiting out each step's dwell, advancing step by step (each a new
version with its history and audit entry) and completing; the guard halting a plan whose users convert worse than
those out of it (the percentage rolled back in the same change, the reading kept, the audit entry and the alarm
metric); the real job function on a scheduled event; cancelling; and a rule changed by hand ending the plan.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile.audit.models import AuditEntry, AuditFilter
from firstmile.flags import logic
from firstmile.flags.runtime import flag_cache, flag_store, flow_users
from firstmile.flags.service import FlagService
from firstmile.flags.store import FlagConflictError, FlagStore
from firstmile.identity.runtime import audit_store, reset_identity_runtime
from firstmile.observability import metrics
from firstmile.onboarding.models import StepAction, StepCommand
from firstmile.onboarding.runtime import onboarding_service, reset_onboarding_runtime
from functions.catalog import by_name
from local.events import schedule_event
from tests.factories import FakeLambdaContext, load_handler
from tests.integration.conftest import Deployment
from tests.integration.routes import RouteClient, ok, problem

TENANT = "t-acme"
ADMIN = "admin:u-admin"
KEY = "new-checkout"
RULE = "beta"
FLOW = "welcome"
STEPS = [1, 5, 25, 100]
DWELL = 60
JOB = "system:rollout"


# --- requests as API Gateway delivers them ------------------------------------------------------------------


@dataclass
class Admin(RouteClient):
    """An admin of one tenant calling the admin routes, each served by its own handler (loaded once per test)."""

    tenant: str = TENANT
    subject: str = "u-admin"
    roles: str = "user,admin"

    # The routes, by what they do.

    def create_flag(self, key: str = KEY, percentage: float = 0) -> Any:
        return ok(self.call("admin_flag_create", body=flag_body(key, percentage)), 201)

    def flag(self, key: str = KEY) -> Any:
        return ok(self.call("admin_flag_get", params={"key": key}))

    def history(self, key: str = KEY) -> list[dict[str, Any]]:
        return ok(self.call("admin_flag_history", params={"key": key}))["items"]  # type: ignore[no-any-return]

    def start(self, key: str = KEY, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call("admin_rollout_start", params={"key": key}, body=body or plan_body())

    def rollout(self, key: str = KEY) -> dict[str, Any]:
        return self.call("admin_rollout_get", params={"key": key})

    def cancel(self, key: str = KEY) -> dict[str, Any]:
        return self.call("admin_rollout_cancel", params={"key": key})

    def audit(self, action: str) -> list[AuditEntry]:
        entries = audit_store().list_entries(TENANT, AuditFilter(action=action), limit=100, cursor=None).items
        return sorted(entries, key=lambda entry: entry.sequence)


@dataclass
class Clock:
    """The job's clock: it moves only when the test says so."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def admin(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Admin]:
    reset_identity_runtime()
    reset_onboarding_runtime()
    metrics.clear_metrics()
    yield Admin(monkeypatch)
    metrics.clear_metrics()
    reset_identity_runtime()
    reset_onboarding_runtime()


def job_at(moment: datetime) -> tuple[FlagService, Clock]:
    """The rollout job's service as the deployment wires it (same store, audit log, cache and guard users), on a
    clock of the test's."""
    clock = Clock(moment)
    return FlagService(flag_store(), flag_cache(), guard_users=flow_users, clock=clock), clock


def flag_body(key: str = KEY, percentage: float = 0) -> dict[str, Any]:
    """A flag with the rule a plan rolls out (German users) and one it leaves alone (staff)."""
    return {
        "key": key,
        "description": "The new checkout",
        "enabled": True,
        "rules": [
            {
                "id": "staff",
                "conditions": [{"attribute": "plan", "operator": "eq", "value": "staff"}],
                "serve": {"value": True},
            },
            {
                "id": RULE,
                "conditions": [{"attribute": "country", "operator": "in", "value": ["DE", "AT"]}],
                "percentage": percentage,
                "serve": {"value": True},
            },
        ],
        "fallthrough": {"value": False},
    }


def plan_body(
    steps: list[float] | None = None, *, dwell: int = DWELL, rule_id: str = RULE, guard: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rule_id": rule_id,
        "steps": [{"percentage": p, "min_dwell_minutes": dwell} for p in steps or STEPS],
    }
    if guard is not None:
        body["guard"] = guard
    return body


def rule_percentage(flag: dict[str, Any]) -> float:
    [rule] = [r for r in flag["rules"] if r["id"] == RULE]
    return float(rule["percentage"])


def started_at(plan: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(plan["started_at"])


# --- starting and reading -----------------------------------------------------------------------------------


def test_an_admin_starts_a_rollout_and_the_rule_moves_to_the_first_step_at_once(admin: Admin) -> None:
    # Given a flag whose rule serves nobody yet (version 1)
    admin.create_flag(percentage=0)

    # When an admin starts a plan of four steps
    started = ok(admin.start(), 201)

    # Then the plan is active on its first step, remembering where the rule was
    assert (started["flag_key"], started["rule_id"], started["status"]) == (KEY, RULE, "active")
    assert (started["step_index"], started["initial_percentage"], started["version"]) == (0, 0, 1)
    assert [s["percentage"] for s in started["steps"]] == STEPS
    assert started["started_at"] == started["step_started_at"]
    assert started["last_reading"] is None and started["ended_reason"] is None

    # And reading it gives the same plan
    assert ok(admin.rollout()) == started

    # And the rule is at 1% as a new version of the flag, by the admin, the other rule untouched
    flag = admin.flag()
    assert (flag["version"], rule_percentage(flag)) == (2, 1)
    assert flag["rules"][0]["percentage"] == 100
    [latest, first] = admin.history()
    assert (latest["version"], latest["changed_by"], first["version"]) == (2, ADMIN, 1)
    assert [change["field"] for change in latest["diff"]] == ["rules"]
    assert [rule_percentage({"rules": latest["diff"][0][side]}) for side in ("before", "after")] == [0, 1]

    # And the start is audited, and the job lists the plan
    [entry] = admin.audit("flag.rollout.started")
    assert (entry.actor, entry.target, entry.details["rule"]) == (ADMIN, f"flag:{KEY}", RULE)
    assert float(entry.details["percentage"]) == 1
    assert flag_store().active_plans() == [(TENANT, KEY)]


def test_a_second_plan_while_one_is_active_is_refused_and_changes_nothing(admin: Admin) -> None:
    # Given a flag being rolled out
    admin.create_flag()
    first = ok(admin.start(), 201)

    # When another plan is started for it
    refused = problem(admin.start(body=plan_body([10, 20])), 409, "BIZ_ROLLOUT_ACTIVE")

    # Then the active plan is named, and neither the plan nor the flag changed
    assert refused["current"] == first
    assert ok(admin.rollout()) == first
    flag = admin.flag()
    assert (flag["version"], rule_percentage(flag)) == (2, 1)


def test_an_unknown_rule_or_flag_is_refused(admin: Admin) -> None:
    admin.create_flag()

    # A rule the flag does not have: refused, nothing stored
    problem(admin.start(body=plan_body(rule_id="gamma")), 422, "VAL_ROLLOUT_RULE_INVALID")
    problem(admin.rollout(), 404, "RES_ROLLOUT_NOT_FOUND")
    assert admin.flag()["version"] == 1
    assert flag_store().active_plans() == []

    # A flag the tenant does not have
    problem(admin.start("no-such-flag"), 404, "RES_FLAG_NOT_FOUND")


def test_a_plan_whose_steps_do_not_increase_is_refused(admin: Admin) -> None:
    admin.create_flag()

    problem(admin.start(body=plan_body([5, 1])), 422, "VAL_REQUEST_INVALID")
    problem(admin.start(body=plan_body([1, 12.3456])), 422, "VAL_REQUEST_INVALID")
    problem(admin.rollout(), 404, "RES_ROLLOUT_NOT_FOUND")
    assert admin.flag()["version"] == 1


def test_a_plan_starting_below_the_rules_current_percentage_is_refused(admin: Admin) -> None:
    # Given a rule that serves 10% already
    admin.create_flag(percentage=10)

    # When a plan would start at 5%, it is refused: it would first take the feature away from users
    refused = problem(admin.start(body=plan_body([5, 50])), 422, "VAL_ROLLOUT_STEPS_INVALID")
    assert "10%" in refused["detail"]
    assert admin.flag()["version"] == 1

    # And a plan starting at 10% is accepted
    ok(admin.start(body=plan_body([10, 50])), 201)


def test_a_caller_without_the_admin_role_cannot_start_or_cancel_a_rollout(admin: Admin) -> None:
    admin.create_flag()
    user = admin.as_(roles="user")

    assert user.start()["statusCode"] == 403
    assert user.cancel()["statusCode"] == 403
    problem(admin.rollout(), 404, "RES_ROLLOUT_NOT_FOUND")


# --- the job ------------------------------------------------------------------------------------------------


def test_the_job_advances_each_step_after_its_dwell_and_completes_the_plan(admin: Admin) -> None:
    # Given a plan of four steps held an hour each, just started
    admin.create_flag()
    plan = ok(admin.start(), 201)
    job, clock = job_at(started_at(plan))

    for step, percentage in enumerate(STEPS[1:], start=1):
        # When the job checks it a minute before the step's dwell is over
        clock.advance(minutes=DWELL - 1)
        assert job.run_rollouts() == {"wait": 1}

        # Then nothing moved
        assert rule_percentage(admin.flag()) == STEPS[step - 1]
        assert ok(admin.rollout())["step_index"] == step - 1

        # When it checks once the dwell is over
        clock.advance(minutes=1)
        assert job.run_rollouts() == {"advance": 1}

        # Then the rule is at the next step as a new version of the flag, by the job, with its history
        flag = admin.flag()
        assert (flag["version"], rule_percentage(flag)) == (2 + step, percentage)
        latest = admin.history()[0]
        assert (latest["version"], latest["changed_by"]) == (2 + step, JOB)
        assert datetime.fromisoformat(latest["changed_at"]) == clock.now
        assert [rule_percentage({"rules": latest["diff"][0][side]}) for side in ("before", "after")] == [
            STEPS[step - 1],
            percentage,
        ]
        # And the plan's step started now
        moved = ok(admin.rollout())
        assert (moved["status"], moved["step_index"]) == ("active", step)
        assert datetime.fromisoformat(moved["step_started_at"]) == clock.now
        # And the advance is audited
        assert float(admin.audit("flag.rollout.advanced")[-1].details["percentage"]) == percentage

    assert [entry.actor for entry in admin.audit("flag.rollout.advanced")] == [JOB] * 3

    # When the last step (100%) has been held for its dwell
    clock.advance(minutes=DWELL - 1)
    assert job.run_rollouts() == {"wait": 1}
    clock.advance(minutes=1)
    assert job.run_rollouts() == {"complete": 1}

    # Then the plan is completed, no longer listed for the job, and the flag stays at 100% (no new version)
    done = ok(admin.rollout())
    assert (done["status"], done["step_index"], done["ended_reason"]) == (
        "completed",
        3,
        "the last step held for its dwell",
    )
    assert flag_store().active_plans() == []
    flag = admin.flag()
    assert (flag["version"], rule_percentage(flag)) == (5, 100)
    assert [entry["changed_by"] for entry in admin.history()] == [JOB, JOB, JOB, ADMIN, ADMIN]
    [completed] = admin.audit("flag.rollout.completed")
    assert completed.actor == JOB

    # And later checks leave it alone, and a cancellation is refused
    clock.advance(days=1)
    assert job.run_rollouts() == {}
    problem(admin.cancel(), 409, "BIZ_ROLLOUT_ENDED")


def test_a_missed_schedule_advances_one_step_per_check_never_skipping_a_dwell(admin: Admin) -> None:
    # Given a plan whose job did not run for a day
    admin.create_flag()
    plan = ok(admin.start(), 201)
    job, clock = job_at(started_at(plan) + timedelta(days=1))

    # When it runs again, twice in the same minute
    assert job.run_rollouts() == {"advance": 1}
    assert job.run_rollouts() == {"wait": 1}

    # Then the plan moved one step: the next one is held for its own dwell
    assert rule_percentage(admin.flag()) == 5
    assert ok(admin.rollout())["step_index"] == 1


# --- the guard ----------------------------------------------------------------------------------------------


def users_of_arm(inside: bool, threshold: int, count: int, prefix: str) -> list[str]:
    """``count`` user ids whose rollout bucket for the flag is below ``threshold`` (``inside``) or not."""
    candidates = (f"{prefix}-{n:05d}" for n in itertools.count())
    return list(itertools.islice((u for u in candidates if (logic.bucket(KEY, u) < threshold) is inside), count))


def publish_flow(admin: Admin) -> None:
    """A published default flow of one required step."""
    body = {"flow_id": FLOW, "name": "Welcome", "steps": [{"id": "hello", "title": "Say hello", "order": 0}]}
    ok(admin.call("admin_flow_create", body=body), 201)
    ok(admin.call("admin_flow_publish", params={"flow_id": FLOW}), 201)
    ok(admin.call("admin_default_flow_set", body={"flow_id": FLOW}))


def enrol(users: list[str], *, complete: bool) -> None:
    """Users' first onboarding call (it enrols them), and for ``complete`` their step and completion."""
    service = onboarding_service()
    for user in users:
        service.status(TENANT, user)
        if complete:
            service.step(TENANT, user, StepCommand(step_id="hello", action=StepAction.COMPLETE), None)
            service.complete(TENANT, user, None)


def test_the_guard_halts_a_plan_whose_users_convert_worse_and_rolls_the_percentage_back(admin: Admin) -> None:
    # Given a published flow, and users in what will be the rollout who completed it before the plan started
    publish_flow(admin)
    threshold = round(STEPS[0] * 1000)
    enrol(users_of_arm(True, threshold, 3, "early"), complete=True)

    # And a flag whose rule is at 0.5%, rolled out with a guard on that flow
    admin.create_flag(percentage=0.5)
    guard = {"flow_id": FLOW, "max_drop_points": 20, "min_users_per_arm": 4, "max_users": 100}
    plan = ok(admin.start(body=plan_body(guard=guard)), 201)
    assert plan["guard"]["metric"] == "onboarding_conversion"

    # And, since the plan started, users in the rollout who do not complete and users out of it who do
    enrol(users_of_arm(True, threshold, 4, "late"), complete=False)
    enrol(users_of_arm(False, threshold, 4, "late"), complete=True)

    # When the job checks the plan a minute later, long before the step's dwell is over
    job, _ = job_at(datetime.now(UTC) + timedelta(minutes=1))
    assert job.run_rollouts() == {"halt": 1}
    # (the next handler a test calls flushes the metrics; what the job emitted is read now)
    emitted = {name: metric["Value"] for name, metric in metrics.metric_set.items()}

    # Then the plan is halted with the reading that breached: the earlier users not counted
    halted = ok(admin.rollout())
    assert (halted["status"], halted["step_index"]) == ("halted", 0)
    reading = halted["last_reading"]
    assert (reading["users_in"], reading["converted_in"], reading["users_out"], reading["converted_out"]) == (
        4,
        0,
        4,
        4,
    )
    assert (reading["rate_in"], reading["rate_out"], reading["sufficient"], reading["breached"]) == (
        0,
        100,
        True,
        True,
    )
    assert "0.0%" in halted["ended_reason"] and "100.0%" in halted["ended_reason"]
    assert flag_store().active_plans() == []

    # And the rule is back at 0.5%, as a new version by the job
    flag = admin.flag()
    assert (flag["version"], rule_percentage(flag)) == (3, 0.5)
    latest = admin.history()[0]
    assert (latest["changed_by"], rule_percentage({"rules": latest["diff"][0]["before"]})) == (JOB, 1)

    # And the halt is audited, and the alarm's metric emitted
    [entry] = admin.audit("flag.rollout.halted")
    assert (entry.actor, entry.target, float(entry.details["percentage"])) == (JOB, f"flag:{KEY}", 0.5)
    assert entry.details["reason"] == halted["ended_reason"]
    assert emitted == {"FlagRolloutHalted": [1.0]}

    # And later checks leave the flag alone
    assert job.run_rollouts() == {}
    assert admin.flag()["version"] == 3


def test_the_guard_still_sees_the_new_users_of_a_flow_with_many_earlier_ones(admin: Admin) -> None:
    # Given a flow with more earlier users than the guard reads (ids sorting before the later ones): the index reads
    # in enrolment order from the step's start, so they cost nothing and hide nobody
    publish_flow(admin)
    enrol([f"a-{n:02d}" for n in range(10)], complete=False)
    admin.create_flag()
    guard = {"flow_id": FLOW, "max_drop_points": 20, "min_users_per_arm": 4, "max_users": 10}
    ok(admin.start(body=plan_body(guard=guard)), 201)

    # And, since the plan started, users in the rollout who do not complete and users out of it who do
    enrol(users_of_arm(True, 1_000, 4, "late"), complete=False)
    enrol(users_of_arm(False, 1_000, 4, "late"), complete=True)

    # When the job checks the plan
    job, _ = job_at(datetime.now(UTC) + timedelta(minutes=1))

    # Then the guard halts it, as it does for a flow without earlier users
    assert job.run_rollouts() == {"halt": 1}


def test_a_guard_without_enough_users_lets_the_plan_advance_and_keeps_its_reading(admin: Admin) -> None:
    # Given a guarded plan and too few users in the rollout to judge (one, not converting)
    publish_flow(admin)
    admin.create_flag()
    guard = {"flow_id": FLOW, "max_drop_points": 5, "min_users_per_arm": 3, "max_users": 100}
    plan = ok(admin.start(body=plan_body(guard=guard)), 201)
    enrol(users_of_arm(True, 1_000, 1, "late"), complete=False)
    enrol(users_of_arm(False, 1_000, 3, "late"), complete=True)
    job, clock = job_at(started_at(plan) + timedelta(minutes=1))

    # When the job checks it during the dwell, then after
    assert job.run_rollouts() == {"wait": 1}
    waiting = ok(admin.rollout())
    clock.advance(minutes=DWELL)
    assert job.run_rollouts() == {"advance": 1}

    # Then each check kept its reading (insufficient, no breach), and the plan moved on
    assert waiting["last_reading"]["sufficient"] is False and waiting["last_reading"]["breached"] is False
    assert (waiting["last_reading"]["users_in"], waiting["last_reading"]["users_out"]) == (1, 3)
    assert waiting["version"] == 2
    moved = ok(admin.rollout())
    assert (moved["status"], moved["step_index"], moved["version"]) == ("active", 1, 3)
    assert datetime.fromisoformat(moved["last_reading"]["at"]) == clock.now
    assert rule_percentage(admin.flag()) == 5


def test_the_scheduled_job_function_runs_the_plans(admin: Admin) -> None:
    # Given a plan of two steps without dwell
    admin.create_flag()
    ok(admin.start(body=plan_body([10, 50], dwell=0)), 201)
    handler = load_handler("flag_rollout_job")

    def scheduled() -> dict[str, Any]:
        event = schedule_event(by_name("flag_rollout_job"), stage="test", scheduled_time=datetime.now(UTC))
        return handler.lambda_handler(event, FakeLambdaContext())  # type: ignore[no-any-return]

    # When the schedule fires, three times
    # Then the plan advances, then completes, then nothing is left to do
    assert scheduled() == {"plans": {"advance": 1}}
    assert rule_percentage(admin.flag()) == 50
    assert scheduled() == {"plans": {"complete": 1}}
    assert ok(admin.rollout())["status"] == "completed"
    assert scheduled() == {"plans": {}}
    assert flag_store().active_plans() == []


# --- cancelling, and changes made by hand -------------------------------------------------------------------


class LostAnswers(FlagStore):
    """A store whose flag writes apply, but whose answers are lost and whose resends are refused: what the SDK's
    retry after a timeout looks like from the caller."""

    def replace_flag(self, *args: Any, **kwargs: Any) -> Any:
        stored = super().replace_flag(*args, **kwargs)
        raise FlagConflictError(stored)


class Refusing(FlagStore):
    """A store whose flag writes are refused as if another writer had come first."""

    def replace_flag(self, tenant: str, flag: Any, *args: Any, **kwargs: Any) -> Any:
        raise FlagConflictError(self.get_flag(tenant, flag.key))


def test_a_step_that_applied_but_whose_answer_was_lost_counts_as_done(admin: Admin) -> None:
    # Given a plan past its first dwell, and a store that loses the answer of the step's transaction
    admin.create_flag()
    plan = ok(admin.start(), 201)
    now = started_at(plan) + timedelta(minutes=DWELL)
    job = FlagService(LostAnswers(flag_store()._table), flag_cache(), clock=Clock(now))

    # When the job advances it, the refusal of its own resent step is recognised as success
    assert job.run_rollouts() == {"advance": 1}
    assert ok(admin.rollout())["step_index"] == 1
    assert rule_percentage(admin.flag()) == 5

    # And a step refused without having applied (another writer came first) is still a failure, and changes nothing
    later = now + timedelta(minutes=DWELL)
    beaten = FlagService(Refusing(flag_store()._table), flag_cache(), clock=Clock(later))
    with pytest.raises(RuntimeError, match="1 rollout checks failed"):
        beaten.run_rollouts()
    assert ok(admin.rollout())["step_index"] == 1


def test_cancelling_stops_the_plan_where_it_stands(admin: Admin) -> None:
    # Given a plan on its second step (5%)
    admin.create_flag()
    plan = ok(admin.start(), 201)
    job, clock = job_at(started_at(plan) + timedelta(minutes=DWELL))
    assert job.run_rollouts() == {"advance": 1}

    # When an admin cancels it
    cancelled = ok(admin.cancel())

    # Then it is cancelled, by them, and the rule keeps its percentage (no new flag version)
    assert (cancelled["status"], cancelled["step_index"], cancelled["ended_reason"]) == (
        "cancelled",
        1,
        f"cancelled by {ADMIN}",
    )
    assert ok(admin.rollout()) == cancelled
    flag = admin.flag()
    assert (flag["version"], rule_percentage(flag)) == (3, 5)
    assert flag_store().active_plans() == []
    [entry] = admin.audit("flag.rollout.cancelled")
    assert (entry.actor, entry.details["step"]) == (ADMIN, "2")

    # And the job no longer moves it
    clock.advance(days=1)
    assert job.run_rollouts() == {}
    assert admin.flag()["version"] == 3

    # And cancelling again is refused
    problem(admin.cancel(), 409, "BIZ_ROLLOUT_ENDED")

    # And a new plan can start, from where the rule is now
    again = ok(admin.start(body=plan_body([10, 100])), 201)
    assert (again["status"], again["initial_percentage"], again["version"]) == ("active", 5, cancelled["version"] + 1)
    assert rule_percentage(admin.flag()) == 10


def test_cancelling_a_flag_without_a_plan_is_not_found(admin: Admin) -> None:
    admin.create_flag()

    problem(admin.cancel(), 404, "RES_ROLLOUT_NOT_FOUND")


def test_a_rule_changed_by_hand_during_a_plan_ends_the_plan_and_keeps_the_change(admin: Admin) -> None:
    # Given a plan on its first step (1%)
    admin.create_flag()
    plan = ok(admin.start(), 201)

    # When an admin sets the rule back to 0% with an ordinary edit of the flag
    ok(admin.call("admin_flag_update", params={"key": KEY}, body=flag_body(KEY, 0), headers={"If-Match": '"v2"'}))

    # And the job checks the plan once the step's dwell is over
    job, _ = job_at(started_at(plan) + timedelta(minutes=DWELL))
    assert job.run_rollouts() == {"abandon": 1}

    # Then the plan ends without raising the rule to the next step: the admin's 0% stands
    ended = ok(admin.rollout())
    assert ended["status"] == "halted"
    assert "outside the plan" in ended["ended_reason"]
    flag = admin.flag()
    assert (flag["version"], rule_percentage(flag)) == (3, 0)
    assert flag_store().active_plans() == []
    [entry] = admin.audit("flag.rollout.abandoned")
    assert entry.actor == JOB


def test_a_plan_whose_flag_was_archived_is_abandoned(admin: Admin) -> None:
    # Given a plan, and its flag archived
    admin.create_flag()
    plan = ok(admin.start(), 201)
    ok(admin.call("admin_flag_archive", params={"key": KEY}, headers={"If-Match": '"v2"'}))

    # When the job checks it
    job, _ = job_at(started_at(plan) + timedelta(minutes=1))
    assert job.run_rollouts() == {"abandon": 1}

    # Then the plan ended and the archived flag was not touched
    assert ok(admin.rollout())["status"] == "halted"
    flag = admin.flag()
    assert (flag["version"], flag["archived"]) == (3, True)
    assert flag_store().active_plans() == []
