"""Progressive rollouts against the emulator: the admin routes through their real handlers, and the scheduled job
function end to end.

Covered: starting a plan (the rule moves to the first step at once, as a new flag version), reading it, refusing a
second active plan, an unknown rule or flag, steps that do not increase or start below the rule, callers without
the admin role; the real job function on a scheduled event; cancelling a flag without a plan. The job's scenarios
(dwell, advancing, completing, the guard, lost answers, cancelling, changes by hand) run on the in-memory stores in
tests/unit/flags/test_rollout_job.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from firstmile.audit.models import AuditEntry, AuditFilter
from firstmile.composition import container, reset
from firstmile.observability import metrics
from functions.catalog import by_name
from local.events import schedule_event
from tests.factories import FakeLambdaContext, load_handler
from tests.integration.conftest import Deployment
from tests.integration.routes import RouteClient, ok, problem
from tests.scenarios.rollout import ADMIN, KEY, RULE, STEPS, TENANT, flag_body, plan_body, rule_percentage

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
        entries = container().audit_store.list_entries(TENANT, AuditFilter(action=action), limit=100, cursor=None).items
        return sorted(entries, key=lambda entry: entry.sequence)


@pytest.fixture
def admin(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Admin]:
    reset()
    metrics.clear_metrics()
    yield Admin(monkeypatch)
    metrics.clear_metrics()
    reset()


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
    assert container().flag_store.active_plans() == [(TENANT, KEY)]


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
    assert container().flag_store.active_plans() == []

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
    assert container().flag_store.active_plans() == []


# --- cancelling ---------------------------------------------------------------------------------------------


def test_cancelling_a_flag_without_a_plan_is_not_found(admin: Admin) -> None:
    admin.create_flag()

    problem(admin.cancel(), 404, "RES_ROLLOUT_NOT_FOUND")
