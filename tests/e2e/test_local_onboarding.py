"""Onboarding over HTTP against the running stack: an admin builds a flow, users walk it, two clients race on one
user's progress, and a migration to a new flow version runs through the migration queue.

The stack is the one ``firstmile dev`` started for the session. Its seeding gives the demo tenant a default flow
already; every test here creates its own flow, makes it the default explicitly and enrols fresh users, so the tests
neither depend on the seeded data nor on each other. Tokens are minted per test with the demo API client's
credentials (access tokens live 15 minutes, longer than one test but not than the session).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from local.seed import DEMO_TENANT_ID
from tests.e2e.harness import Reply, RunningStack, call

pytestmark = pytest.mark.e2e

STATUS = "/v1/onboarding/status"
STEP = "/v1/onboarding/step"
FLOWS = "/v1/admin/onboarding/flows"
DEFAULT_FLOW = "/v1/admin/onboarding/default-flow"
MIGRATE = "/v1/admin/onboarding/migrate-version"
# The migration runs through SQS and the local poller; generous for a loaded two-core machine.
MIGRATION_TIMEOUT_SECONDS = 120.0
PROBLEM = "application/problem+json"


@dataclass
class Client:
    """One caller of the API: a user (or admin) of the demo tenant with a fresh access token."""

    stack: RunningStack
    user: str
    token: str

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        if_match: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if if_match is not None:
            headers["If-Match"] = if_match
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return call(self.stack.url(path), method, headers, body)

    def status(self) -> dict[str, Any]:
        reply = self.request("GET", STATUS)
        assert reply.status == 200, reply.body
        answer: dict[str, Any] = reply.json()
        assert reply.headers["ETag"] == f'"v{answer["progress_version"]}"'
        return answer


def mint(stack: RunningStack, user: str, roles: list[str]) -> Client:
    """A new session for ``user`` of the demo tenant over ``POST /v1/auth/token``."""
    tokens = stack.tokens()
    basic = base64.b64encode(f"{tokens['FIRSTMILE_CLIENT_ID']}:{tokens['FIRSTMILE_CLIENT_SECRET']}".encode()).decode()
    body = {"grant_type": "client_credentials", "user_id": user, "roles": roles}
    reply = call(stack.url("/v1/auth/token"), "POST", {"Authorization": f"Basic {basic}"}, body)
    assert reply.status == 200, reply.body
    return Client(stack, user, reply.json()["access_token"])


def fresh_user(stack: RunningStack) -> Client:
    return mint(stack, f"e2e-{uuid.uuid4().hex[:12]}", ["user"])


@pytest.fixture
def admin(stack: RunningStack) -> Client:
    return mint(stack, f"e2e-admin-{uuid.uuid4().hex[:8]}", ["user", "admin"])


def flow_definition(name: str, *, renamed: bool = False) -> dict[str, Any]:
    """A required task, an optional tutorial with a hint, and a milestone step completed by the first run.

    ``renamed``: the second version's content, in which the task is called ``connect-data`` and a new optional
    step ``invite`` follows the tutorial.
    """
    task = "connect-data" if renamed else "connect"
    steps: list[dict[str, Any]] = [
        {"id": task, "title": "Connect a data source", "kind": "task", "required": True, "order": 10},
        {
            "id": "tour",
            "title": "Take the editor tour",
            "kind": "tutorial",
            "required": False,
            "order": 20,
            "hint": "Drag a block onto the canvas.",
        },
        {
            "id": "first-run",
            "title": "Run your first workflow",
            "kind": "milestone",
            "required": True,
            "order": 30,
            "completion_criteria": {"milestone": "first_run"},
        },
    ]
    if renamed:
        steps.append({"id": "invite", "title": "Invite a teammate", "kind": "task", "required": False, "order": 25})
    return {
        "name": name,
        "description": "End-to-end test flow",
        "steps": steps,
        "sample_workflow": {"name": f"{name} sample", "steps": [{"action": "fetch"}, {"action": "notify"}]},
        "sample_agent": {"name": "Helper", "tools": ["search"]},
    }


def default_flow(admin: Client) -> str:
    """A new flow, created, published as version 1 and made the tenant's default; its id."""
    flow_id = f"e2e-{uuid.uuid4().hex[:10]}"
    created = admin.request("POST", FLOWS, {"flow_id": flow_id, **flow_definition("Getting started (e2e)")})
    assert created.status == 201, created.body
    assert created.headers["ETag"] == '"v1"'
    published = admin.request("POST", f"{FLOWS}/{flow_id}/publish", if_match=created.headers["ETag"])
    assert published.status == 201, published.body
    assert published.json()["version"] == 1
    chosen = admin.request("PUT", DEFAULT_FLOW, {"flow_id": flow_id})
    assert chosen.status == 200, chosen.body
    assert admin.request("GET", DEFAULT_FLOW).json()["flow_id"] == flow_id
    return flow_id


def states(status: dict[str, Any]) -> dict[str, str]:
    return {step["id"]: step["state"] for step in status["steps"]}


def step(user: Client, step_id: str, action: str, **headers: Any) -> Reply:
    return user.request("POST", STEP, {"step_id": step_id, "action": action}, **headers)


def assert_problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"] == PROBLEM
    problem: dict[str, Any] = reply.json()
    assert problem["code"] == code, problem
    return problem


# --- a user walks a flow --------------------------------------------------------------------------------------


def test_a_user_walks_a_flow_and_the_status_reflects_every_change(stack: RunningStack, admin: Client) -> None:
    # Given a flow made the tenant's default, and a user who has never called onboarding
    flow_id = default_flow(admin)
    user = fresh_user(stack)

    # When the user first asks for their status, they are enrolled on version 1, nothing done yet
    status = user.status()
    assert (status["flow_id"], status["flow_version"], status["state"]) == (flow_id, 1, "in_progress")
    assert states(status) == {"connect": "not_started", "tour": "not_started", "first-run": "not_started"}
    assert (status["current_step"], status["percent_complete"]) == ("connect", 0)
    assert (status["completed"], status["skipped"]) == (False, False)
    assert status["tutorial_hints"] == [{"step_id": "tour", "hint": "Drag a block onto the canvas."}]
    assert all(not m["reached"] for m in status["milestones"].values())
    # ...and the sample configuration is the one of their flow version
    sample = user.request("GET", "/v1/onboarding/sample-workflow")
    assert sample.status == 200, sample.body
    assert (sample.json()["flow_id"], sample.json()["flow_version"]) == (flow_id, 1)
    assert sample.json()["sample_workflow"]["name"] == "Getting started (e2e) sample"

    # When they start and complete the required task, each answer and each later status shows it
    started = step(user, "connect", "start")
    assert started.status == 200, started.body
    assert states(started.json())["connect"] == "started"
    assert started.headers["ETag"] == f'"v{started.json()["progress_version"]}"'
    assert user.status()["steps"][0]["started_at"] is not None
    completed = step(user, "connect", "complete")
    assert completed.status == 200, completed.body
    status = user.status()
    assert states(status)["connect"] == "completed" and status["steps"][0]["completed_at"] is not None
    assert status["current_step"] == "tour"
    assert status["percent_complete"] > 0

    # Then skipping a required step, an unknown step, or completing while a required step is open is refused
    assert_problem(step(user, "first-run", "skip"), 409, "BIZ_REQUIRED_STEP_NOT_SKIPPABLE")
    assert_problem(step(user, "no-such-step", "start"), 404, "RES_STEP_NOT_FOUND")
    assert_problem(user.request("POST", "/v1/onboarding/complete"), 409, "BIZ_ONBOARDING_INCOMPLETE")
    assert states(user.status())["first-run"] == "not_started"

    # When they skip the optional tutorial
    skipped = step(user, "tour", "skip")
    assert skipped.status == 200, skipped.body
    status = user.status()
    assert states(status)["tour"] == "skipped" and status["steps"][1]["skipped_at"] is not None
    assert status["current_step"] == "first-run"

    # ...and reach the milestones: the sample workflow, the sample agent, then the first run
    for path, milestone in (
        ("/v1/onboarding/mark-sample-workflow", "sample_workflow"),
        ("/v1/onboarding/mark-sample-agent", "sample_agent"),
    ):
        marked = user.request("POST", path)
        assert marked.status == 200, marked.body
        reached = user.status()["milestones"][milestone]
        assert reached["reached"] is True and reached["at"] is not None
    assert states(user.status())["first-run"] == "not_started"
    first_run = user.request("POST", "/v1/onboarding/mark-first-run")
    assert first_run.status == 200, first_run.body
    status = user.status()
    # Then the milestone step completes itself with the first run
    assert status["milestones"]["first_run"]["reached"] is True
    assert states(status) == {"connect": "completed", "tour": "skipped", "first-run": "completed"}
    assert (status["percent_complete"], status["current_step"]) == (100, None)
    assert status["state"] == "in_progress"

    # When they complete the onboarding
    done = user.request("POST", "/v1/onboarding/complete")

    # Then it is completed, and stays so in the status
    assert done.status == 200, done.body
    status = user.status()
    assert (status["state"], status["completed"], status["skipped"]) == ("completed", True, False)
    assert status["completed_at"] is not None
    assert_problem(user.request("POST", "/v1/onboarding/skip"), 409, "BIZ_ONBOARDING_FINISHED")


def test_a_user_can_skip_the_whole_onboarding_and_an_admin_restarts_them(stack: RunningStack, admin: Client) -> None:
    # Given a user enrolled on the default flow
    default_flow(admin)
    user = fresh_user(stack)
    assert user.status()["state"] == "in_progress"

    # When they skip the onboarding
    skipped = user.request("POST", "/v1/onboarding/skip")

    # Then it is skipped
    assert skipped.status == 200, skipped.body
    status = user.status()
    assert (status["state"], status["skipped"], status["completed"]) == ("skipped", True, False)

    # When an admin restarts them, they start over
    restarted = admin.request("POST", f"/v1/admin/onboarding/users/{user.user}/restart")
    assert restarted.status == 200, restarted.body
    status = user.status()
    assert status["state"] == "in_progress"
    assert set(states(status).values()) == {"not_started"}


# --- concurrency ----------------------------------------------------------------------------------------------


def at_once(*requests: Callable[[], Reply]) -> list[Reply]:
    """Send the requests at the same moment, from threads of their own."""
    barrier = threading.Barrier(len(requests))

    def send(request: Callable[[], Reply]) -> Reply:
        barrier.wait()
        return request()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_two_clients_editing_one_progress_with_the_same_etag_one_wins_and_nothing_is_lost(
    stack: RunningStack, admin: Client
) -> None:
    # Given a user enrolled on the default flow, and the ETag both of their clients read
    default_flow(admin)
    phone = fresh_user(stack)
    laptop = Client(stack, phone.user, phone.token)
    etag = phone.request("GET", STATUS).headers["ETag"]

    # When both clients change the progress at once, each sending that ETag
    replies = at_once(
        lambda: step(phone, "connect", "start", if_match=etag),
        lambda: laptop.request("POST", "/v1/onboarding/mark-sample-workflow", if_match=etag),
    )

    # Then exactly one succeeds, and the other gets 409 problem+json carrying the current state and its ETag
    assert sorted(r.status for r in replies) == [200, 409], [r.body for r in replies]
    winner, loser = (replies[0], replies[1]) if replies[0].status == 200 else (replies[1], replies[0])
    conflict = assert_problem(loser, 409, "RES_VERSION_CONFLICT")
    assert conflict["current"]["progress_version"] == winner.json()["progress_version"]
    assert loser.headers["ETag"] == winner.headers["ETag"] != etag
    assert conflict["current"] == winner.json()

    # When the losing client retries with the ETag it was given
    if loser is replies[0]:
        retried = step(phone, "connect", "start", if_match=loser.headers["ETag"])
    else:
        retried = laptop.request("POST", "/v1/onboarding/mark-sample-workflow", if_match=loser.headers["ETag"])

    # Then it succeeds, and the final status has both changes
    assert retried.status == 200, retried.body
    status = phone.status()
    assert states(status)["connect"] == "started"
    assert status["milestones"]["sample_workflow"]["reached"] is True
    assert status["progress_version"] == retried.json()["progress_version"]


def test_concurrent_changes_without_if_match_are_all_kept(stack: RunningStack, admin: Client) -> None:
    # Given a user enrolled on the default flow
    default_flow(admin)
    user = fresh_user(stack)
    before = user.status()["progress_version"]

    # When three clients change different parts of the progress at once, without If-Match
    replies = at_once(
        lambda: step(user, "connect", "start"),
        lambda: step(user, "tour", "skip"),
        lambda: user.request("POST", "/v1/onboarding/mark-sample-agent"),
    )

    # Then every change is accepted (conflicts are retried on the server) and every one is visible
    assert [r.status for r in replies] == [200, 200, 200], [r.body for r in replies]
    status = user.status()
    assert (states(status)["connect"], states(status)["tour"]) == ("started", "skipped")
    assert status["milestones"]["sample_agent"]["reached"] is True
    assert status["progress_version"] == before + 3


def test_a_replayed_step_returns_the_first_answer_and_changes_nothing(stack: RunningStack, admin: Client) -> None:
    # Given a user who started a step with an Idempotency-Key
    default_flow(admin)
    user = fresh_user(stack)
    key = f"e2e-{uuid.uuid4().hex}"
    first = step(user, "connect", "start", idempotency_key=key)
    assert first.status == 200, first.body

    # When the client sends the same request again (a retry after a lost answer)
    again = step(user, "connect", "start", idempotency_key=key)

    # Then the first answer comes back, marked as a replay, and the progress did not move
    assert again.status == 200, again.body
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert user.status()["progress_version"] == first.json()["progress_version"]
    # ...and the same key with another body is refused
    assert_problem(step(user, "tour", "skip", idempotency_key=key), 422, "VAL_IDEMPOTENCY_KEY_REUSED")


# --- version migration ----------------------------------------------------------------------------------------


def wait_for_migration(admin: Client, migration_id: str) -> dict[str, Any]:
    """Poll the migration until it completes; its last state."""
    deadline = time.monotonic() + MIGRATION_TIMEOUT_SECONDS
    while True:
        reply = admin.request("GET", f"/v1/admin/onboarding/migrations/{migration_id}")
        assert reply.status == 200, reply.body
        migration: dict[str, Any] = reply.json()
        if migration["status"] == "completed":
            return migration
        assert time.monotonic() < deadline, f"the migration did not complete in time: {migration}"
        time.sleep(0.5)


def test_a_migration_moves_users_to_the_new_version_and_keeps_their_progress(
    stack: RunningStack, admin: Client
) -> None:
    # Given two users on version 1 of a flow: one completed the task, the other only skipped the tutorial
    flow_id = default_flow(admin)
    ahead, behind = fresh_user(stack), fresh_user(stack)
    assert step(ahead, "connect", "start").status == 200
    assert step(ahead, "connect", "complete").status == 200
    assert step(behind, "tour", "skip").status == 200
    ahead_before, behind_before = ahead.status(), behind.status()
    completed_at = ahead_before["steps"][0]["completed_at"]

    # ...and version 2, in which the task is renamed and a step is added
    draft = admin.request("GET", f"{FLOWS}/{flow_id}")
    assert draft.status == 200, draft.body
    edited = admin.request(
        "PUT",
        f"{FLOWS}/{flow_id}",
        flow_definition("Getting started (e2e)", renamed=True),
        if_match=draft.headers["ETag"],
    )
    assert edited.status == 200, edited.body
    published = admin.request("POST", f"{FLOWS}/{flow_id}/publish", if_match=edited.headers["ETag"])
    assert published.status == 201, published.body
    assert published.json()["version"] == 2
    versions = admin.request("GET", f"{FLOWS}/{flow_id}/versions")
    assert [v["version"] for v in versions.json()["items"]] == [2, 1]
    # Users stay on the version they started on
    assert ahead.status()["flow_version"] == 1
    step_map = [
        {"op": "rename", "from_step": "connect", "to_step": "connect-data"},
        {"op": "add", "to_step": "invite"},
    ]
    request = {"flow_id": flow_id, "from_version": 1, "to_version": 2, "step_map": step_map}

    # When the admin asks for a dry run
    preview = admin.request("POST", MIGRATE, {**request, "dry_run": True})

    # Then it says what would happen to both users, and moves nobody
    assert preview.status == 200, preview.body
    plan = preview.json()
    assert plan["users_examined"] == 2 and plan["truncated"] is False
    assert sum(plan["outcomes"].values()) == 2
    assert plan["outcomes"].get("migrated") == 2
    assert {sample["user"] for sample in plan["sample"]} == {ahead.user, behind.user}
    assert ahead.status()["flow_version"] == 1

    # When the admin runs it for real
    started = admin.request("POST", MIGRATE, {**request, "dry_run": False})

    # Then it is accepted, runs through the queue and its worker, and completes
    assert started.status == 202, started.body
    migration_id = started.json()["migration_id"]
    assert started.headers["Location"] == f"/v1/admin/onboarding/migrations/{migration_id}"
    migration = wait_for_migration(admin, migration_id)
    assert (migration["users_migrated"], migration["users_skipped"]) == (2, 0)
    assert migration["listing_done"] is True and migration["completed_at"] is not None

    # ...and both users are on version 2 with their progress carried over along the map
    ahead_after, behind_after = ahead.status(), behind.status()
    assert (ahead_after["flow_version"], behind_after["flow_version"]) == (2, 2)
    assert states(ahead_after) == {
        "connect-data": "completed",
        "tour": "not_started",
        "invite": "not_started",
        "first-run": "not_started",
    }
    assert ahead_after["steps"][0]["completed_at"] == completed_at
    assert states(behind_after)["tour"] == "skipped" and states(behind_after)["connect-data"] == "not_started"
    assert behind_after["steps"][1]["skipped_at"] == behind_before["steps"][1]["skipped_at"]
    # ...and the migration's start and end are in the tenant's audit log
    for action in ("onboarding.migration.started", "onboarding.migration.completed"):
        audit = admin.request("GET", f"/v1/admin/audit?action={action}")
        assert audit.status == 200, audit.body
        entries = [e for e in audit.json()["items"] if e["target"] == f"migration:{migration_id}"]
        assert len(entries) == 1 and entries[0]["tenant"] == DEMO_TENANT_ID, audit.json()
