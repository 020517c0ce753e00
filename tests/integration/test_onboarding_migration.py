"""Moving users between flow versions end to end: the admin routes, the deployment's own migration queue and the
worker's ``lambda_handler``, as Lambda's SQS poller drives it (at most ``batch_size`` records per event, deleting
what succeeded and letting failed records become visible again). The service's scenarios (the dry run, paging,
redelivery, failures midway, withdrawal, the audit trail) run on the in-memory store and queue in
tests/unit/onboarding/test_migration_runs.py.

Users are enrolled on version 1 of a flow in six patterns of progress, and version 2 renames, merges, splits, drops
and adds steps. The deployed service lists users 100 to a page and migrates them 25 to a batch; here the handlers
get a service with pages of ``PAGE_SIZE`` and batches of ``BATCH_SIZE``, so twenty users span two pages and six
batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from firstmile.composition import container, reset
from firstmile.onboarding.migrations import Migrations
from firstmile.onboarding.models import (
    Progress,
)
from firstmile.platform.queues import JsonQueue
from firstmile.platform.resources import ONBOARDING_MIGRATIONS_QUEUE
from functions.catalog import Queue, by_name
from tests.factories import FakeLambdaContext, load_handler
from tests.integration.conftest import Deployment
from tests.integration.test_onboarding_admin_routes import TENANT, Admin, ok, problem
from tests.scenarios.migration import (
    STEP_MAP,
    VERSION_1,
    VERSION_2,
    assert_migrated,
    enrol_users,
    user_id,
)

PAGE_SIZE = 10
BATCH_SIZE = 4


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
        store = container().onboarding_store
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


WorldOf = Callable[[int], World]


@pytest.fixture
def world_of(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorldOf]:
    """Builds the world: flow ``welcome`` of t-acme (the default) at version 1, the given number of users on it,
    version 2 published; the migration handlers and worker on a service with small pages and batches."""
    reset()

    def build(users: int) -> World:
        admin = Admin(monkeypatch)
        ok(admin.create("welcome", VERSION_1), 201)
        ok(admin.publish("welcome"), 201)
        ok(admin.call("admin_default_flow_set", body={"flow_id": "welcome"}))
        welcome_v1 = container().flows.get_version(TENANT, "welcome", 1)
        before = enrol_users(container().onboarding_store, welcome_v1, TENANT, users)
        ok(admin.update("welcome", VERSION_2, **{"If-Match": '"v2"'}))
        ok(admin.publish("welcome"), 201)
        # The container's migrations as the composition root wires them, with small pages and batches.
        container().migrations = Migrations(
            container().onboarding_store,
            container().published_versions,
            JsonQueue(ONBOARDING_MIGRATIONS_QUEUE),
            page_size=PAGE_SIZE,
            batch_size=BATCH_SIZE,
        )
        worker = load_handler("onboarding_migration_worker")
        return World(deployment, admin, worker, before)

    yield build
    reset()


# --- what a user's progress must become ---------------------------------------------------------------------


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
    # Given twenty users on version 1
    world = world_of(20)

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
    assert (migration["users_enqueued"], migration["users_migrated"], migration["users_skipped"]) == (20, 20, 0)
    # Two pages of ten, each in batches of 4, 4 and 2
    assert migration["batches_done"] == migration["batches_enqueued"] == 2 * 3
    assert sum('"kind":"page"' in body for body in world.delivered) >= 20 // PAGE_SIZE

    # And each user is on version 2 with their steps mapped, their timestamps kept and one more event
    for user, after in world.progress().items():
        newest_event = [e.type.value for e in container().onboarding_store.list_events(TENANT, user)][-1]
        assert_migrated(world.before[user], after, migration_id, newest_event)
    # And the invite step pattern 3 had completed is gone, as the map says
    migrated_3 = world.progress()[user_id(3)]
    assert migrated_3 is not None and "invite-team" not in migrated_3.steps


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
