"""Moving users between flow versions: the dry run, and execution through the migration queue and its worker.

Users are enrolled on version 1 of a flow in six patterns of progress, and version 2 renames, merges, splits, drops
and adds steps. The admin routes run through their handlers; the queue is the deployment's own, drained by
receiving its messages and handing them to the worker's ``lambda_handler`` as Lambda's SQS poller would: at most
``batch_size`` records per event, deleting what succeeded and letting failed records become visible again.

The deployed service lists users 100 to a page and migrates them 25 to a batch; here the handlers get a service
with pages of ``PAGE_SIZE`` and batches of ``BATCH_SIZE``, so sixty users span six pages and eighteen batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from firstmile.audit.models import AuditFilter
from firstmile.identity.runtime import audit_store, reset_identity_runtime
from firstmile.onboarding import logic
from firstmile.onboarding.models import (
    Progress,
    RestartRequest,
    StepAction,
    StepCommand,
    StepProgress,
    Transition,
)
from firstmile.onboarding.runtime import onboarding_service, onboarding_store, reset_onboarding_runtime
from firstmile.onboarding.service import OnboardingService
from firstmile.platform.queues import JsonQueue
from firstmile.platform.resources import ONBOARDING_MIGRATIONS_QUEUE
from functions.catalog import Queue, by_name
from tests.factories import FakeLambdaContext, load_handler
from tests.integration.conftest import Deployment
from tests.integration.test_onboarding_admin_routes import ACTOR, TENANT, Admin, flow_body, ok, problem

PATTERNS = 6
PAGE_SIZE = 10
BATCH_SIZE = 4

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


# --- the deployment: flows, users, handlers and the queue -----------------------------------------------------


@dataclass
class World:
    """A tenant with the flow at versions 1 and 2, its users, the admin routes and the migration worker."""

    deployment: Deployment
    admin: Admin
    worker: Any
    # Each user's progress on version 1, as it was before any migration.
    before: dict[str, Progress]
    # Every message body the worker was handed, in order.
    delivered: list[str] = field(default_factory=list)

    @property
    def users(self) -> int:
        return len(self.before)

    def start(self, *, dry_run: bool, step_map: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        body = {
            "flow_id": "welcome",
            "from_version": 1,
            "to_version": 2,
            "step_map": STEP_MAP if step_map is None else step_map,
            "dry_run": dry_run,
        }
        return self.admin.call("admin_migration_start", body=body)

    def migration(self, migration_id: str) -> dict[str, Any]:
        return ok(self.admin.call("admin_migration_get", params={"migration_id": migration_id}))  # type: ignore[no-any-return]

    def progress(self) -> dict[str, Progress | None]:
        store = onboarding_store()
        return {user: store.get_progress(TENANT, user) for user in self.before}

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.deployment.migration_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    @property
    def sqs(self) -> Any:
        return self.deployment.client("sqs")

    def drain(self, *, max_rounds: int = 200) -> list[dict[str, Any]]:
        """Hand the queue's messages to the worker until it is empty, as Lambda's SQS poller does; its answers."""
        url = self.deployment.migration_queue_url
        trigger = by_name("onboarding_migration_worker").trigger
        assert isinstance(trigger, Queue)
        answers: list[dict[str, Any]] = []
        for _ in range(max_rounds):
            received = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=trigger.batch_size).get(
                "Messages", []
            )
            if not received:
                return answers
            answer = self.invoke(received)
            answers.append(answer)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            for message in received:
                if message["MessageId"] in failed:
                    # The visibility timeout running out, without the wait: the message is back for a retry.
                    self.sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        raise AssertionError(f"the migration queue was not empty after {max_rounds} batches")

    def invoke(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """One invocation of the worker with these messages; an invocation that raises fails every record."""
        self.delivered += [message["Body"] for message in messages]
        event = {"Records": [sqs_record(message, self.deployment.migration_queue_url) for message in messages]}
        try:
            return self.worker.lambda_handler(event, FakeLambdaContext())  # type: ignore[no-any-return]
        except BatchProcessingError:
            return {"batchItemFailures": [{"itemIdentifier": message["MessageId"]} for message in messages]}


def sqs_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    """A received message as a record of the SQS event Lambda's poller sends."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:000000000000:{queue_url.rsplit('/', 1)[-1]}",
        "awsRegion": "us-east-1",
    }


def message(n: int, body: str) -> dict[str, Any]:
    """A message as ``receive_message`` returns it, for deliveries made by hand."""
    return {"MessageId": f"m-{n}", "ReceiptHandle": f"r-{n}", "Body": body}


def enrol_users(tenant: str, count: int, first: int = 0) -> dict[str, Progress]:
    """``count`` users who walked version 1 of ``welcome`` per their pattern, written transition by transition
    through the state machine, each step a few minutes after the one before; their stored progress."""
    store = onboarding_store()
    flow = onboarding_service().get_version(tenant, "welcome", 1)
    gate = logic.flags_unavailable
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    walked: dict[str, Progress] = {}
    for n in range(first, first + count):
        user = user_id(n)
        at = start + timedelta(minutes=10 * n)
        steps, finish = WALKS[n % PATTERNS]
        progress = _write(logic.enrol(tenant, user, flow, at))
        for minutes, (step_id, action) in enumerate(steps, start=1):
            command = StepCommand(step_id=step_id, action=action)
            progress = _write(logic.apply_step(progress, flow, command, at + timedelta(minutes=minutes), gate))
        finished_at = at + timedelta(minutes=len(steps) + 1)
        if finish == "complete":
            progress = _write(logic.complete_onboarding(progress, flow, finished_at, gate))
        elif finish == "skip":
            progress = _write(logic.skip_onboarding(progress, flow, finished_at))
        assert store.get_progress(tenant, user) == progress
        walked[user] = progress
    return walked


def _write(transition: Transition) -> Progress:
    onboarding_store().write_transition(transition)
    return transition.progress


WorldOf = Callable[[int], World]


@pytest.fixture
def world_of(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorldOf]:
    """Builds the world: flow ``welcome`` of t-acme (the default) at version 1, the given number of users on it,
    version 2 published; the migration handlers and worker on a service with small pages and batches."""
    reset_identity_runtime()
    reset_onboarding_runtime()

    def build(users: int) -> World:
        admin = Admin(monkeypatch)
        ok(admin.create("welcome", VERSION_1), 201)
        ok(admin.publish("welcome"), 201)
        ok(admin.call("admin_default_flow_set", body={"flow_id": "welcome"}))
        before = enrol_users(TENANT, users)
        ok(admin.update("welcome", VERSION_2, **{"If-Match": '"v2"'}))
        ok(admin.publish("welcome"), 201)
        service = OnboardingService(
            onboarding_store(),
            queue=JsonQueue(ONBOARDING_MIGRATIONS_QUEUE),
            migration_page_size=PAGE_SIZE,
            migration_batch_size=BATCH_SIZE,
        )
        worker = load_handler("onboarding_migration_worker")
        for module in (worker, admin.handler("admin_migration_start"), admin.handler("admin_migration_get")):
            monkeypatch.setattr(module, "onboarding_service", lambda: service)
        return World(deployment, admin, worker, before)

    yield build
    reset_identity_runtime()
    reset_onboarding_runtime()


# --- what a user's progress must become ---------------------------------------------------------------------


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


# --- the dry run --------------------------------------------------------------------------------------------


def test_a_dry_run_counts_users_per_outcome_and_per_operation_and_writes_nothing(world_of: WorldOf) -> None:
    # Given sixty users on version 1, ten of each pattern, and nothing on the queue
    world = world_of(60)
    logged = len(audit_store().list_entries(TENANT, AuditFilter(), limit=100, cursor=None).items)

    # When an admin asks what migrating them to version 2 would do
    response = world.start(dry_run=True)

    # Then every user was examined and counted by outcome: ten lose the invite step they did, twenty had finished
    preview = ok(response)
    assert (preview["flow_id"], preview["from_version"], preview["to_version"]) == ("welcome", 1, 2)
    assert (preview["users_examined"], preview["truncated"]) == (60, False)
    assert preview["outcomes"] == {
        "migrated": 30,
        "loses_progress": 10,
        "finished": 20,
        "already_migrated": 0,
        "not_on_source": 0,
    }
    # And each operation says how many users it changes (the add of a not_started step changes nobody)
    changed = {op["operation"]["op"]: op["users_changed"] for op in preview["operations"]}
    assert changed == {
        "rename": 30,  # patterns 1, 2 and 4 touched connect-data
        "merge": 10,  # pattern 4 built and ran
        "split": 10,  # pattern 2 skipped the tour
        "drop": 10,  # pattern 3 invited the team
        "add": 0,
    }
    # And a sample shows users before and after
    assert 0 < len(preview["sample"]) <= 5
    for shown in preview["sample"]:
        before = world.before[shown["user"]]
        for step_id, state in shown["before"].items():
            assert state == (before.steps[step_id].state.value if step_id in before.steps else "not_started")
        assert set(shown["after"]) <= {step["id"] for step in VERSION_2["steps"]}

    # And nothing was written, queued or audited
    assert world.progress() == world.before
    assert world.queued() == 0
    assert len(audit_store().list_entries(TENANT, AuditFilter(), limit=100, cursor=None).items) == logged


def test_a_dry_run_examines_at_most_the_configured_number_of_users(
    world_of: WorldOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given twelve users and a deployment whose dry runs examine at most ten (its own service, from settings)
    world = world_of(12)
    monkeypatch.setenv("FIRSTMILE_MIGRATION_DRY_RUN_MAX_USERS", "10")
    reset_onboarding_runtime()
    monkeypatch.setattr(world.admin.handler("admin_migration_start"), "onboarding_service", onboarding_service)

    # When a dry run is asked for
    preview = ok(world.start(dry_run=True))

    # Then it says it looked at ten users of more
    assert (preview["users_examined"], preview["truncated"]) == (10, True)
    assert sum(preview["outcomes"].values()) == 10


def test_a_step_map_that_does_not_fit_the_versions_is_refused(world_of: WorldOf) -> None:
    # Given a map naming a step version 1 does not have, and one producing a step twice
    world = world_of(0)
    unknown = [{"op": "rename", "from_step": "no-such-step", "to_step": "connect-source"}]
    twice = [*STEP_MAP, {"op": "rename", "from_step": "welcome", "to_step": "connect-source"}]

    for step_map in (unknown, twice):
        for dry_run in (True, False):
            # When either is previewed or executed
            response = world.start(dry_run=dry_run, step_map=step_map)

            # Then it is refused, naming the problem, and nothing is started
            assert problem(response, 422, "VAL_STEP_MAP_INVALID")["errors"]
    assert world.queued() == 0


def test_a_migration_between_versions_that_do_not_exist_is_refused(world_of: WorldOf) -> None:
    admin = world_of(0).admin

    body = {"flow_id": "welcome", "from_version": 1, "to_version": 3, "step_map": [], "dry_run": True}
    problem(admin.call("admin_migration_start", body=body), 404, "RES_FLOW_VERSION_NOT_FOUND")
    body = {"flow_id": "nowhere", "from_version": 1, "to_version": 2, "step_map": [], "dry_run": True}
    problem(admin.call("admin_migration_start", body=body), 404, "RES_FLOW_NOT_FOUND")
    body = {"flow_id": "welcome", "from_version": 2, "to_version": 2, "step_map": [], "dry_run": True}
    problem(admin.call("admin_migration_start", body=body), 422, "VAL_REQUEST_INVALID")


# --- execution ----------------------------------------------------------------------------------------------


def test_a_migration_moves_every_user_carrying_their_progress_over(world_of: WorldOf) -> None:
    # Given sixty users on version 1
    world = world_of(60)

    # When an admin starts the migration
    response = world.start(dry_run=False)

    # Then it is accepted, to be followed at its status URL
    accepted = ok(response, 202)
    migration_id = accepted["migration_id"]
    assert accepted["status"] == "running"
    assert accepted["status_url"] == f"/v1/admin/onboarding/migrations/{migration_id}"
    assert response["headers"]["Location"] == accepted["status_url"]
    assert world.migration(migration_id)["status"] == "running"

    # When the worker works through the queue
    answers = world.drain()

    # Then every record succeeded, over several pages and batches, and the migration completed with every user
    assert all(answer["batchItemFailures"] == [] for answer in answers)
    migration = world.migration(migration_id)
    assert migration["status"] == "completed"
    assert migration["completed_at"] is not None
    assert migration["listing_done"] is True
    assert (migration["users_enqueued"], migration["users_migrated"], migration["users_skipped"]) == (60, 60, 0)
    # Six pages of ten, each in batches of 4, 4 and 2
    assert migration["batches_done"] == migration["batches_enqueued"] == 6 * 3
    assert sum('"kind":"page"' in body for body in world.delivered) >= 60 // PAGE_SIZE

    # And each user is on version 2 with their steps mapped, their timestamps kept and one more event
    for user, after in world.progress().items():
        before = world.before[user]
        assert after is not None
        assert (after.flow_id, after.flow_version, after.migrations) == ("welcome", 2, [migration_id])
        assert without_not_started(after.steps) == expected_steps(before), user
        carried = ("state", "completed_at", "skipped_at", "enrolled_at", "milestones", "sample", "expires_at")
        assert {name: getattr(after, name) for name in carried} == {name: getattr(before, name) for name in carried}
        assert after.version == before.version + 1
        assert [e.type.value for e in onboarding_store().list_events(TENANT, user)][-1] == "migrated"
    # And the invite step pattern 3 had completed is gone, as the map says
    migrated_3 = world.progress()[user_id(3)]
    assert migrated_3 is not None and "invite-team" not in migrated_3.steps


def test_a_migrated_user_sees_version_2_in_their_status(world_of: WorldOf) -> None:
    # Given a completed migration
    world = world_of(12)
    ok(world.start(dry_run=False), 202)
    world.drain()

    # When a user who had connected their data and skipped the tour asks for their status
    status, _ = onboarding_service().status(TENANT, user_id(2))

    # Then it shows version 2's steps, the renamed and split ones in the state they had
    assert status.flow_version == 2
    assert {step.id: step.state.value for step in status.steps} == {
        "welcome": "completed",
        "connect-source": "completed",
        "tour-editor": "skipped",
        "tour-runs": "skipped",
        "pick-template": "not_started",
        "first-success": "not_started",
    }
    assert status.current_step == "pick-template"


def test_redelivering_every_message_changes_nothing(world_of: WorldOf) -> None:
    # Given a completed migration and every message the worker was handed
    world = world_of(12)
    migration_id = ok(world.start(dry_run=False), 202)["migration_id"]
    world.drain()
    completed, migrated = world.migration(migration_id), world.progress()
    delivered = list(world.delivered)

    # When every message is delivered again (SQS delivers at least once), five to an invocation
    for start in range(0, len(delivered), 5):
        batch = [message(n, body) for n, body in enumerate(delivered[start : start + 5], start=start)]
        assert world.invoke(batch)["batchItemFailures"] == []

    # Then the counts, the users' progress and the queue are exactly as they were
    assert world.migration(migration_id) == completed
    assert world.progress() == migrated
    assert world.queued() == 0


def test_a_worker_failure_midway_is_retried_and_the_migration_still_completes(
    world_of: WorldOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store that fails once counting a batch, after that batch's users were moved
    world = world_of(24)
    store = onboarding_store()
    record_batch = store.record_batch
    failed: list[str] = []

    def fail_once(tenant: str, migration_id: str, batch_id: str, **counts: int) -> Any:
        if not failed and batch_id.endswith("-1"):
            failed.append(batch_id)
            raise RuntimeError("the table went away for a moment")
        return record_batch(tenant, migration_id, batch_id, **counts)

    monkeypatch.setattr(store, "record_batch", fail_once)
    migration_id = ok(world.start(dry_run=False), 202)["migration_id"]

    # When the worker works through the queue
    answers = world.drain()

    # Then that one record was reported failed, came back, and succeeded on its retry
    assert len(failed) == 1
    assert sum(len(answer["batchItemFailures"]) for answer in answers) == 1
    # And the migration completed, counting each user once
    migration = world.migration(migration_id)
    assert migration["status"] == "completed"
    assert (migration["users_enqueued"], migration["users_migrated"], migration["users_skipped"]) == (24, 24, 0)
    assert migration["batches_done"] == migration["batches_enqueued"]
    assert all(p is not None and p.flow_version == 2 for p in world.progress().values())


def test_a_migration_whose_first_message_cannot_be_sent_is_withdrawn(world_of: WorldOf) -> None:
    # Given users on version 1, and the migration queue gone from under the deployment
    world = world_of(3)
    world.deployment.client("sqs").delete_queue(QueueUrl=world.deployment.migration_queue_url)

    # When an admin starts the migration
    response = world.start(dry_run=False)

    # Then the request answers 503, and no migration is left running with nothing enqueued for it
    problem(response, 503, "SYS_UNAVAILABLE")
    items = world.deployment.table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :migration)",
        ExpressionAttributeValues={":pk": f"TENANT#{TENANT}#FLOWS", ":migration": "MIGRATION#"},
        ConsistentRead=True,
    )["Items"]
    assert items == []
    assert all(progress and progress.flow_version == 1 for progress in world.progress().values())
    # ...and the audit log says both: started (with the migration item) and withdrawn (with its removal)
    entries = audit_store().list_entries(TENANT, AuditFilter(), limit=100, cursor=None).items
    migration_entries = [(e.action, e.target) for e in reversed(entries) if e.target.startswith("migration:")]
    assert [action for action, _ in migration_entries] == [
        "onboarding.migration.started",
        "onboarding.migration.withdrawn",
    ]
    assert migration_entries[0][1] == migration_entries[1][1]
    assert audit_store().verify(TENANT).ok


def test_running_the_same_migration_again_finds_nobody_left_on_version_1(world_of: WorldOf) -> None:
    # Given a completed migration
    world = world_of(12)
    first = ok(world.start(dry_run=False), 202)["migration_id"]
    world.drain()
    migrated = world.progress()

    # When the same migration is started again
    again = ok(world.start(dry_run=False), 202)["migration_id"]
    world.drain()

    # Then it completes having moved nobody, and nobody changed
    assert again != first
    rerun = world.migration(again)
    assert (rerun["status"], rerun["users_enqueued"], rerun["users_migrated"]) == ("completed", 0, 0)
    assert world.progress() == migrated
    assert ok(world.start(dry_run=True))["users_examined"] == 0


def test_users_of_other_flows_and_tenants_are_left_alone(world_of: WorldOf) -> None:
    # Given a user of another tenant on a flow of the same id and version, and a user of another flow
    world = world_of(12)
    other = world.admin.as_(tenant="t-other")
    ok(other.create("welcome", VERSION_1), 201)
    ok(other.publish("welcome"), 201)
    outsider = enrol_users("t-other", 1, first=1)[user_id(1)]
    ok(world.admin.create("advanced", flow_body("Advanced")), 201)
    ok(world.admin.publish("advanced"), 201)
    onboarding_service().status(TENANT, "u-advanced")
    onboarding_service().restart_user(TENANT, "u-advanced", RestartRequest(flow_id="advanced"), actor=ACTOR)
    elsewhere = onboarding_store().get_progress(TENANT, "u-advanced")

    # When t-acme's migration runs
    migration_id = ok(world.start(dry_run=False), 202)["migration_id"]
    world.drain()

    # Then it counted only t-acme's users of flow welcome, and the others are untouched
    assert world.migration(migration_id)["users_migrated"] == 12
    assert onboarding_store().get_progress("t-other", user_id(1)) == outsider
    assert onboarding_store().get_progress(TENANT, "u-advanced") == elsewhere


def test_starting_and_completing_a_migration_is_audited(world_of: WorldOf) -> None:
    # Given a migration started by the admin and run to the end
    world = world_of(6)
    migration_id = ok(world.start(dry_run=False), 202)["migration_id"]
    world.drain()

    # When the tenant's audit log is read
    entries = audit_store().list_entries(TENANT, AuditFilter(), limit=100, cursor=None).items

    # Then it says who started which migration, between which versions, and that it completed
    about = {e.action: e for e in entries if e.target == f"migration:{migration_id}"}
    assert about["onboarding.migration.started"].actor == ACTOR
    details = about["onboarding.migration.started"].details
    assert (details["flow"], details["from_version"], details["to_version"]) == ("welcome", "1", "2")
    assert about["onboarding.migration.completed"].actor == "system"


def test_a_migration_of_another_tenant_or_none_at_all_is_not_found(world_of: WorldOf) -> None:
    world = world_of(0)
    migration_id = ok(world.start(dry_run=False), 202)["migration_id"]
    get = "admin_migration_get"

    other = world.admin.as_(tenant="t-other")
    problem(other.call(get, params={"migration_id": migration_id}), 404, "RES_MIGRATION_NOT_FOUND")
    problem(world.admin.call(get, params={"migration_id": "mig_" + "A" * 22}), 404, "RES_MIGRATION_NOT_FOUND")
    problem(world.admin.call(get, params={"migration_id": "not-an-id"}), 422, "VAL_REQUEST_INVALID")


def test_a_message_for_a_migration_that_does_not_exist_is_dropped_not_retried(world_of: WorldOf) -> None:
    world = world_of(0)
    body = '{"kind":"page","tenant":"t-acme","migration_id":"mig_' + "A" * 22 + '","start_key":null}'

    answer = world.invoke([message(1, body)])

    assert answer["batchItemFailures"] == []
    assert world.queued() == 0


def test_a_message_that_is_not_a_migration_message_goes_back_alone(world_of: WorldOf) -> None:
    world = world_of(0)
    good = '{"kind":"page","tenant":"t-acme","migration_id":"mig_' + "A" * 22 + '","start_key":null}'

    answer = world.invoke([message(1, good), message(2, "not json"), message(3, '{"kind":"nonsense"}')])

    assert answer["batchItemFailures"] == [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]
