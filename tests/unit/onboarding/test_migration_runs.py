"""Moving users between flow versions on the in-memory store and queue: the dry run, paging through the users of
the source version, batches, redelivery, failures midway, withdrawal and the audit trail. The route, the real queue
and the worker's partial batch answers stay in tests/integration/test_onboarding_migration.py.

Sixty users walk version 1 of a flow in six patterns of progress; version 2 renames, merges, splits, drops and adds
steps. The service lists users ``PAGE_SIZE`` to a page and migrates them ``BATCH_SIZE`` to a batch, so sixty users
span six pages and eighteen batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from firstmile.audit.models import AuditFilter
from firstmile.errors import DependencyUnavailableError
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.migrations import Migrations
from firstmile.onboarding.models import (
    DefaultFlowUpdate,
    FlowCreate,
    FlowDefinition,
    FlowVersion,
    MigrationAccepted,
    MigrationPlanPreview,
    MigrationRequest,
    Progress,
    RestartRequest,
)
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.queues import FakeQueue
from tests.scenarios.migration import (
    STEP_MAP,
    VERSION_1,
    VERSION_2,
    assert_migrated,
    enrol_users,
    user_id,
)

TENANT, ACTOR = "t-acme", "admin:u-admin"
PAGE_SIZE = 10
BATCH_SIZE = 4


@dataclass
class World:
    """A tenant with the flow at versions 1 and 2, its users, and the services over the in-memory store and queue."""

    store: FakeOnboardingStore
    audit: FakeAuditLog
    queue: FakeQueue
    flows: FlowAdmin
    migrations: Migrations
    users: ProgressService
    # Each user's progress on version 1, as it was before any migration.
    before: dict[str, Progress]

    def start(self, *, dry_run: bool) -> MigrationPlanPreview | MigrationAccepted:
        request = MigrationRequest.model_validate(
            {"flow_id": "welcome", "from_version": 1, "to_version": 2, "step_map": STEP_MAP, "dry_run": dry_run}
        )
        return self.migrations.migrate(TENANT, request, ACTOR)

    def run(self) -> str:
        """Start a migration and let the worker work through the queue; the migration's id."""
        accepted = self.start(dry_run=False)
        assert isinstance(accepted, MigrationAccepted)
        assert self.queue.drain(self.migrations.handle_migration_message) == 0
        return accepted.migration_id

    def progress(self) -> dict[str, Progress | None]:
        return {user: self.store.get_progress(TENANT, user) for user in self.before}


def publish_flow(flows: FlowAdmin, tenant: str, flow_id: str, definition: dict[str, Any]) -> None:
    flows.create_flow(tenant, FlowCreate.model_validate({"flow_id": flow_id, **definition}), ACTOR)
    flows.publish(tenant, flow_id, None, ACTOR)


def welcome_v1(store: FakeOnboardingStore, tenant: str) -> FlowVersion:
    flow = store.get_version(tenant, "welcome", 1)
    assert flow is not None
    return flow


WorldOf = Callable[..., World]


@pytest.fixture
def world_of() -> WorldOf:
    """Builds the world: flow ``welcome`` of t-acme (the default) at version 1, the given number of users on it,
    version 2 published."""

    def build(users: int, **settings: Any) -> World:
        audit = FakeAuditLog()
        store, queue = FakeOnboardingStore(audit=audit), FakeQueue()
        versions = PublishedVersions(store)
        flows = FlowAdmin(store, versions)
        migrations = Migrations(store, versions, queue, page_size=PAGE_SIZE, batch_size=BATCH_SIZE, **settings)
        publish_flow(flows, TENANT, "welcome", VERSION_1)
        flows.set_default(TENANT, DefaultFlowUpdate(flow_id="welcome"), ACTOR)
        before = enrol_users(store, welcome_v1(store, TENANT), TENANT, users)
        flows.update_flow(TENANT, "welcome", FlowDefinition.model_validate(VERSION_2), None, ACTOR)
        flows.publish(TENANT, "welcome", None, ACTOR)
        return World(store, audit, queue, flows, migrations, ProgressService(store, versions), before)

    return build


# --- the dry run --------------------------------------------------------------------------------------------


def test_a_dry_run_counts_users_per_outcome_and_per_operation_and_writes_nothing(world_of: WorldOf) -> None:
    # Given sixty users on version 1, ten of each pattern, and nothing on the queue
    world = world_of(60)
    logged = len(world.audit.entries(TENANT))

    # When an admin asks what migrating them to version 2 would do
    answer = world.start(dry_run=True)

    # Then every user was examined and counted by outcome: ten lose the invite step they did, twenty had finished
    assert isinstance(answer, MigrationPlanPreview)
    preview = answer.model_dump(mode="json")
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
    assert changed == {"rename": 30, "merge": 10, "split": 10, "drop": 10, "add": 0}
    # And a sample shows users before and after
    assert 0 < len(preview["sample"]) <= 5
    for shown in preview["sample"]:
        before = world.before[shown["user"]]
        for step_id, state in shown["before"].items():
            assert state == (before.steps[step_id].state.value if step_id in before.steps else "not_started")
        assert set(shown["after"]) <= {step["id"] for step in VERSION_2["steps"]}

    # And nothing was written, queued or audited
    assert world.progress() == world.before
    assert not world.queue.pending
    assert len(world.audit.entries(TENANT)) == logged


def test_a_dry_run_examines_at_most_the_configured_number_of_users(world_of: WorldOf) -> None:
    # Given twelve users and a service whose dry runs examine at most ten
    world = world_of(12, dry_run_max_users=10)

    # When a dry run is asked for
    preview = world.start(dry_run=True)

    # Then it says it looked at ten users of more
    assert isinstance(preview, MigrationPlanPreview)
    assert (preview.users_examined, preview.truncated) == (10, True)
    assert sum(preview.outcomes.values()) == 10


# --- execution ----------------------------------------------------------------------------------------------


def test_a_migration_pages_through_every_user_and_carries_their_progress_over(world_of: WorldOf) -> None:
    # Given sixty users on version 1
    world = world_of(60)

    # When an admin starts the migration and the worker works through the queue
    migration_id = world.run()

    # Then it completed with every user, over six pages of ten, each in batches of 4, 4 and 2
    migration = world.migrations.get_migration(TENANT, migration_id)
    assert (migration.status.value, migration.listing_done) == ("completed", True)
    assert migration.completed_at is not None
    assert (migration.users_enqueued, migration.users_migrated, migration.users_skipped) == (60, 60, 0)
    assert migration.batches_done == migration.batches_enqueued == 6 * 3
    pages = [json.loads(body) for body in world.queue.delivered if '"kind":"page"' in body]
    assert len(pages) == 60 // PAGE_SIZE
    # ...each page starting where the one before ended (a start key that survives a queue message)
    assert pages[0]["start_key"] is None and all(page["start_key"] for page in pages[1:])

    # And each user is on version 2 with their steps mapped, their timestamps kept and one more event
    for user, after in world.progress().items():
        newest_event = [e.type.value for e in world.store.list_events(TENANT, user)][-1]
        assert_migrated(world.before[user], after, migration_id, newest_event)
    # And the invite step pattern 3 had completed is gone, as the map says
    migrated_3 = world.progress()[user_id(3)]
    assert migrated_3 is not None and "invite-team" not in migrated_3.steps


def test_a_migrated_user_sees_version_2_in_their_status(world_of: WorldOf) -> None:
    # Given a completed migration
    world = world_of(12)
    world.run()

    # When a user who had connected their data and skipped the tour asks for their status
    status, _ = world.users.status(TENANT, user_id(2))

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
    migration_id = world.run()
    completed, migrated = world.migrations.get_migration(TENANT, migration_id), world.progress()
    delivered = list(world.queue.delivered)

    # When every message is delivered again (SQS delivers at least once)
    for body in delivered:
        world.migrations.handle_migration_message(json.loads(body))

    # Then the counts, the users' progress and the queue are exactly as they were
    assert world.migrations.get_migration(TENANT, migration_id) == completed
    assert world.progress() == migrated
    assert not world.queue.pending


def test_a_worker_failure_midway_is_retried_and_the_migration_still_completes(world_of: WorldOf) -> None:
    # Given a store that fails once counting a batch, after that batch's users were moved
    world = world_of(24)
    world.store.faults.unavailable("record_batch")
    accepted = world.start(dry_run=False)
    assert isinstance(accepted, MigrationAccepted)

    # When the worker works through the queue
    failed = world.queue.drain(world.migrations.handle_migration_message)

    # Then that one message failed, came back, and succeeded on its retry
    assert failed == 1
    # And the migration completed, counting each user once
    migration = world.migrations.get_migration(TENANT, accepted.migration_id)
    assert migration.status.value == "completed"
    assert (migration.users_enqueued, migration.users_migrated, migration.users_skipped) == (24, 24, 0)
    assert migration.batches_done == migration.batches_enqueued
    assert all(p is not None and p.flow_version == 2 for p in world.progress().values())


def test_a_migration_whose_first_message_cannot_be_sent_is_withdrawn(world_of: WorldOf) -> None:
    # Given users on version 1, and a queue that refuses messages
    world = world_of(3)
    world.queue.faults.unavailable("send")

    # When an admin starts the migration
    with pytest.raises(DependencyUnavailableError):
        world.start(dry_run=False)

    # Then no migration is left running with nothing enqueued for it, and nobody moved
    entries = [e for e in world.audit.entries(TENANT) if e.target.startswith("migration:")]
    assert [e.action for e in entries] == ["onboarding.migration.started", "onboarding.migration.withdrawn"]
    assert entries[0].target == entries[1].target
    assert world.store.get_migration(TENANT, entries[0].target.removeprefix("migration:")) is None
    assert all(progress and progress.flow_version == 1 for progress in world.progress().values())
    assert world.audit.verify(TENANT).ok


def test_running_the_same_migration_again_finds_nobody_left_on_version_1(world_of: WorldOf) -> None:
    # Given a completed migration
    world = world_of(12)
    first = world.run()
    migrated = world.progress()

    # When the same migration is started again
    again = world.run()

    # Then it completes having moved nobody, and nobody changed
    assert again != first
    rerun = world.migrations.get_migration(TENANT, again)
    assert (rerun.status.value, rerun.users_enqueued, rerun.users_migrated) == ("completed", 0, 0)
    assert world.progress() == migrated
    preview = world.start(dry_run=True)
    assert isinstance(preview, MigrationPlanPreview) and preview.users_examined == 0


def test_users_of_other_flows_and_tenants_are_left_alone(world_of: WorldOf) -> None:
    # Given a user of another tenant on a flow of the same id and version, and a user of another flow
    world = world_of(12)
    publish_flow(world.flows, "t-other", "welcome", VERSION_1)
    outsider = enrol_users(world.store, welcome_v1(world.store, "t-other"), "t-other", 1, first=1)[user_id(1)]
    publish_flow(world.flows, TENANT, "advanced", {**VERSION_1, "name": "Advanced"})
    world.users.status(TENANT, "u-advanced")
    world.flows.restart_user(TENANT, "u-advanced", RestartRequest(flow_id="advanced"), actor=ACTOR)
    elsewhere = world.store.get_progress(TENANT, "u-advanced")

    # When t-acme's migration runs
    migration_id = world.run()

    # Then it counted only t-acme's users of flow welcome, and the others are untouched
    assert world.migrations.get_migration(TENANT, migration_id).users_migrated == 12
    assert world.store.get_progress("t-other", user_id(1)) == outsider
    assert world.store.get_progress(TENANT, "u-advanced") == elsewhere


def test_starting_and_completing_a_migration_is_audited(world_of: WorldOf) -> None:
    # Given a migration started by the admin and run to the end
    world = world_of(6)
    migration_id = world.run()

    # When the tenant's audit log is read
    entries = world.audit.list_entries(TENANT, AuditFilter(), limit=100).items

    # Then it says who started which migration, between which versions, and that it completed
    about = {e.action: e for e in entries if e.target == f"migration:{migration_id}"}
    assert about["onboarding.migration.started"].actor == ACTOR
    details = about["onboarding.migration.started"].details
    assert (details["flow"], details["from_version"], details["to_version"]) == ("welcome", "1", "2")
    assert about["onboarding.migration.completed"].actor == "system"
