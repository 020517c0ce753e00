"""The onboarding store against the emulator: round trips, paging, conditional writes, events, migration counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from firstmile.audit.store import AuditStore
from firstmile.errors import DependencyUnavailableError
from firstmile.onboarding import logic
from firstmile.onboarding.models import (
    EventType,
    FlowDefinition,
    FlowVersion,
    OnboardingState,
    StepAction,
    StepCommand,
    StepDefinition,
    Transition,
)
from firstmile.onboarding.store import OnboardingStore, ProgressConflictError
from tests.contracts.onboarding import (
    MIGRATION_ID,
    T0,
    TENANT,
    WELCOME_1,
    OnboardingStoreContract,
    audited,
    draft,
    enrolment,
    event,
    every_listed,
    migration,
    progress,
)
from tests.integration.conftest import Deployment, DynamoCalls
from tests.integration.transaction_faults import TransactionConflicts

# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def store(table: Any) -> OnboardingStore:
    return OnboardingStore(table, event_retention_days=30)


class TestOnboardingStoreContract(OnboardingStoreContract):
    """The onboarding store's contract, on the table engine."""

    implementation = OnboardingStore

    @pytest.fixture
    def store(self, table: Any, audit_log: AuditStore) -> OnboardingStore:
        return OnboardingStore(table, event_retention_days=30, audit=audit_log)


def raw_items(table: Any, pk: str, prefix: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)" if prefix else "pk = :pk",
        ExpressionAttributeValues={":pk": pk, ":prefix": prefix} if prefix else {":pk": pk},
    )["Items"]
    return items


# --- flows ------------------------------------------------------------------------------------------------


# --- progress and events ----------------------------------------------------------------------------------


def test_an_enrolment_stores_the_progress_and_its_event_together(store: OnboardingStore, table: Any) -> None:
    # When a user is enrolled
    store.write_transition(enrolment())

    # Then the progress reads back, indexed by its flow version, without an expiry
    assert store.get_progress(TENANT, "u-alice") == progress()
    stored = table.get_item(Key={"pk": "TENANT#t-acme#USER#u-alice", "sk": "ONBOARDING#PROGRESS"})["Item"]
    assert stored["gsi2pk"] == "TENANT#t-acme#FLOW#welcome#V#1"
    assert stored["gsi2sk"].startswith("ENROLLED#") and stored["gsi2sk"].endswith("Z#USER#u-alice")
    assert "gsi1pk" not in stored and "gsi1sk" not in stored
    assert stored["kind"] == "onboarding_progress"
    assert "expires_at" not in stored
    # ...and the event is there, expiring after the retention
    [item] = raw_items(table, "TENANT#t-acme#USER#u-alice", "ONBOARDING#EVENT#")
    assert item["kind"] == "onboarding_event"
    assert item["expires_at"] == int((progress().updated_at + timedelta(days=30)).timestamp())
    assert store.list_events(TENANT, "u-alice") == enrolment().events
    assert store.get_progress(TENANT, "u-bob") is None


def test_a_progress_stored_before_compact_step_records_reads_back_and_is_listed(
    store: OnboardingStore, table: Any
) -> None:
    # Given a progress item as it was stored before decision 0049: each step a map of ISO-8601 times
    stored = progress(version=2).model_copy(update={"state": OnboardingState.COMPLETED, "completed_at": T0})
    table.put_item(
        Item={
            "pk": "TENANT#t-acme#USER#u-alice",
            "sk": "ONBOARDING#PROGRESS",
            "gsi2pk": "TENANT#t-acme#FLOW#welcome#V#1",
            "gsi2sk": f"ENROLLED#{T0.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#USER#u-alice",
            "kind": "onboarding_progress",
            **{k: v for k, v in stored.model_dump(mode="json").items() if v is not None},
        }
    )

    # Then it reads back as it was written, and is listed with its whole progress and as an enrolment
    assert store.get_progress(TENANT, "u-alice") == stored
    assert store.list_progress_on_version(WELCOME_1, limit=5, start_key=None)[0] == [stored]
    [listed] = store.list_enrolments(WELCOME_1, limit=5, start_key=None)[0]
    assert (listed.user, listed.completed_at) == ("u-alice", T0)


def test_users_whose_progress_is_still_indexed_as_before_are_listed_after_the_others(
    store: OnboardingStore, table: Any
) -> None:
    # Given two users on version 1 written now, and one whose progress was last written before decision 0049 (in
    # gsi1, which projects every attribute, with steps as maps)
    store.write_transition(enrolment("u-new-1"))
    store.write_transition(enrolment("u-new-2"))
    old = progress("u-old", version=2)
    table.put_item(
        Item={
            "pk": "TENANT#t-acme#USER#u-old",
            "sk": "ONBOARDING#PROGRESS",
            "gsi1pk": "TENANT#t-acme#FLOW#welcome#V#1",
            "gsi1sk": f"ENROLLED#{T0.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#USER#u-old",
            "kind": "onboarding_progress",
            **{k: v for k, v in old.model_dump(mode="json").items() if v is not None},
        }
    )

    # When the users of version 1 are listed a page at a time, as enrolments and as progress
    # Then every user comes once, the one written before last; their progress is whole
    assert [en.user for en in every_listed(store.list_enrolments, limit=1)] == ["u-new-1", "u-new-2", "u-old"]
    assert every_listed(store.list_progress_on_version, limit=1)[-1] == old
    # ...and once written again, the user moves to the new index and is listed once still
    again = progress("u-old", version=3)
    store.write_transition(Transition(progress=again, events=[event(again, EventType.STEP_STARTED)]))
    assert sorted(en.user for en in every_listed(store.list_enrolments, limit=1)) == ["u-new-1", "u-new-2", "u-old"]


def _flow(steps: int) -> FlowVersion:
    ids = [
        f"{verb}-{noun}"
        for noun in ("data-source", "teammates", "api-key", "dashboard", "webhook")
        for verb in (
            "connect",
            "create",
            "invite",
            "configure",
            "import",
            "review",
            "enable",
            "publish",
            "install",
            "schedule",
        )
    ][:steps]
    definition = FlowDefinition(
        name="Getting started", steps=[StepDefinition(id=step, title=step, order=n) for n, step in enumerate(ids)]
    )
    return FlowVersion(flow_id="welcome", version=1, definition=definition, published_at=T0, published_by="a")


@pytest.mark.parametrize("steps", [5, 50])
def test_a_step_costs_the_index_nothing_and_the_table_a_few_units_whatever_the_flow_size(
    steps: int, table: Any
) -> None:
    # Given a user who completed all but the last step of a flow of 5 or 50 steps, on a table that reports the
    # write units of each transaction
    reported: list[dict[str, Any]] = []

    def ask(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"

    def keep(parsed: dict[str, Any], **_: Any) -> None:
        reported[:] = parsed.get("ConsumedCapacity") or []

    table.meta.client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", ask)
    table.meta.client.meta.events.register("after-call.dynamodb.TransactWriteItems", keep)
    store = OnboardingStore(table)
    flow = _flow(steps)
    now = T0
    transition = logic.enrol(TENANT, "u-alice", flow, now)
    store.write_transition(transition)
    for step in flow.definition.steps:
        now += timedelta(minutes=3, microseconds=4321)
        command = StepCommand(step_id=step.id, action=StepAction.COMPLETE)
        transition = logic.apply_step(transition.progress, flow, command, now, logic.flags_unavailable)

        # When each step is completed
        store.write_transition(transition)

        # Then no index is written (a step changes nothing the users-per-version index projects), and the progress
        # and its event cost at most 8 units even with 50 steps done (they cost 30 when every step was a map of
        # ISO-8601 times and the index projected the whole item)
        [consumed] = reported
        assert "GlobalSecondaryIndexes" not in consumed
        assert consumed["Table"]["CapacityUnits"] <= (2 if steps == 5 else 8)
    assert store.get_progress(TENANT, "u-alice") == transition.progress


def test_a_write_from_a_stale_version_conflicts_and_records_nothing(store: OnboardingStore, calls: DynamoCalls) -> None:
    # Given two requests that both read version 1
    store.write_transition(enrolment())
    winner, loser = progress(version=2), progress(version=2).model_copy(update={"steps": {}})
    store.write_transition(Transition(progress=winner, events=[event(winner, EventType.STEP_COMPLETED)]))
    calls.names.clear()

    # When the second writes on top of what it read
    with pytest.raises(ProgressConflictError) as conflict:
        store.write_transition(
            Transition(progress=loser, events=[event(loser, EventType.STEP_SKIPPED, at=T0 + timedelta(hours=1))])
        )

    # Then it loses, sees the winner (returned by the cancelled transaction itself), and its event was not written
    assert conflict.value.progress == winner
    assert calls.names == ["TransactWriteItems"]
    assert store.get_progress(TENANT, "u-alice") == winner
    assert [e.type for e in store.list_events(TENANT, "u-alice")] == [EventType.ENROLLED, EventType.STEP_COMPLETED]


def test_a_conflict_without_the_item_in_the_cancellation_reads_the_progress_once(
    store: OnboardingStore, table: Any, calls: DynamoCalls
) -> None:
    # Given DynamoDB answering a cancelled transaction without the stored item
    store.write_transition(enrolment())
    second = progress(version=2)
    store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_STARTED)]))

    def drop_items(parsed: dict[str, Any], **_: Any) -> None:
        for reason in parsed.get("CancellationReasons", []):
            reason.pop("Item", None)

    events = table.meta.client.meta.events
    events.register("after-call.dynamodb.TransactWriteItems", drop_items, unique_id="drop-items")
    calls.names.clear()

    # When a stale write loses
    try:
        with pytest.raises(ProgressConflictError) as conflict:
            store.write_transition(enrolment())
    finally:
        events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="drop-items")

    # Then the stored progress was read with one GetItem
    assert conflict.value.progress == second
    assert calls.names == ["TransactWriteItems", "GetItem"]


def test_a_sample_users_events_expire_with_it(store: OnboardingStore, table: Any) -> None:
    # Given a sample user whose data expires in a week (before the event retention of 30 days)
    expires = int((T0 + timedelta(days=7)).timestamp())

    # When they are enrolled
    store.write_transition(enrolment("sample-1", expires_at=expires))

    # Then the progress and its event carry the progress's expiry
    assert store.get_progress(TENANT, "sample-1") == progress("sample-1", expires_at=expires)
    items = raw_items(table, "TENANT#t-acme#USER#sample-1")
    assert {item["kind"]: item["expires_at"] for item in items} == {
        "onboarding_progress": expires,
        "onboarding_event": expires,
    }


def test_expired_events_are_not_listed(store: OnboardingStore, table: Any) -> None:
    # Given a user enrolled long ago, whose enrolment event is past its retention but not yet swept
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    first = progress().model_copy(update={"enrolled_at": long_ago, "updated_at": long_ago})
    store.write_transition(Transition(progress=first, events=[event(first, EventType.ENROLLED)]))
    second = progress(version=2)
    store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_COMPLETED)]))

    # Then only the live event is listed
    assert len(raw_items(table, "TENANT#t-acme#USER#u-alice", "ONBOARDING#EVENT#")) == 2
    assert [e.type for e in store.list_events(TENANT, "u-alice")] == [EventType.STEP_COMPLETED]


def test_a_transition_without_events_writes_nothing(store: OnboardingStore, calls: DynamoCalls) -> None:
    store.write_transition(Transition(progress=progress(), events=[]))

    assert calls.names == []
    assert store.get_progress(TENANT, "u-alice") is None


def test_events_of_another_user_are_refused(store: OnboardingStore, calls: DynamoCalls) -> None:
    alice = progress()

    with pytest.raises(ValueError, match="belong"):
        store.write_transition(Transition(progress=alice, events=[event(progress("u-bob"), EventType.ENROLLED)]))

    assert calls.names == []


# --- migrations -------------------------------------------------------------------------------------------


def test_a_counted_batch_leaves_one_expiring_marker_however_often_it_is_delivered(
    store: OnboardingStore, table: Any
) -> None:
    # Given a migration whose batch b-1 is delivered twice and b-2 once (the counts: the contract's)
    store.create_migration(TENANT, migration(), event=audited(TENANT))
    for batch in ("b-1", "b-1", "b-2"):
        store.record_batch(TENANT, MIGRATION_ID, batch, migrated=1, skipped=0)

    # Then each batch has one marker item of the migration, which expires
    markers = raw_items(table, f"TENANT#t-acme#MIGRATION#{MIGRATION_ID}")
    assert sorted(m["sk"] for m in markers) == ["BATCH#b-1", "BATCH#b-2"]
    assert all(m["kind"] == "migration_marker" and m["expires_at"] > 0 for m in markers)


# --- requests and failures --------------------------------------------------------------------------------


def test_a_read_is_one_get_item_and_a_transition_one_transaction(store: OnboardingStore, calls: DynamoCalls) -> None:
    # When a user is enrolled, read, moves on and is read again
    store.write_transition(enrolment())
    store.get_progress(TENANT, "u-alice")
    second = progress(version=2)
    store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_STARTED)]))
    store.get_progress(TENANT, "u-alice")

    # Then each cost exactly one request
    assert calls.names == ["TransactWriteItems", "GetItem", "TransactWriteItems", "GetItem"]


def test_an_unreachable_table_is_a_dependency_failure(deployment: Deployment) -> None:
    # Given a store over a table that does not exist
    missing = OnboardingStore(
        boto3.resource("dynamodb", endpoint_url=deployment.endpoint, region_name="us-east-1").Table("firstmile-missing")
    )

    # Then reads and writes alike answer as an unavailable dependency
    for attempt in (
        lambda: missing.get_progress(TENANT, "u-alice"),
        lambda: missing.write_transition(enrolment()),
        lambda: missing.list_drafts(TENANT, limit=5, cursor=None),
        lambda: missing.create_draft(TENANT, draft(), event=audited(TENANT)),
        lambda: missing.record_batch(TENANT, MIGRATION_ID, "b-1", migrated=1, skipped=0),
        lambda: missing.complete_migration(TENANT, MIGRATION_ID, "2027-01-15T09:00:00Z", event=audited(TENANT)),
    ):
        with pytest.raises(DependencyUnavailableError):
            attempt()


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("firstmile.platform.gateway.pause", lambda _attempt: None)


@pytest.mark.usefixtures("no_pauses")
def test_counting_is_sent_again_after_a_transaction_conflict(store: OnboardingStore, table: Any) -> None:
    # Given a migration whose counters another transaction holds for a moment
    store.create_migration(TENANT, migration(), event=audited(TENANT))

    # When a batch is counted
    with TransactionConflicts(table, times=2) as conflicts:
        counted = store.record_batch(TENANT, MIGRATION_ID, "b-1", migrated=2, skipped=1)

    # Then the third attempt went through, once
    assert conflicts.sent == 3
    assert counted is not None and (counted.users_migrated, counted.batches_done) == (2, 1)


@pytest.mark.usefixtures("no_pauses")
def test_counting_that_stays_contended_is_a_dependency_failure(store: OnboardingStore, table: Any) -> None:
    store.create_migration(TENANT, migration(), event=audited(TENANT))

    with TransactionConflicts(table, times=100) as conflicts, pytest.raises(DependencyUnavailableError):
        store.record_page(TENANT, MIGRATION_ID, "page-1", users=10, batches=1, last=True)

    assert conflicts.sent == 4
    assert store.get_migration(TENANT, MIGRATION_ID) == migration()


@pytest.mark.usefixtures("no_pauses")
def test_a_transition_that_stays_contended_conflicts_with_the_stored_progress(
    store: OnboardingStore, table: Any
) -> None:
    # Given an enrolled user
    store.write_transition(enrolment())
    second = progress(version=2)

    # When their next transition keeps meeting another transaction, then once it does not
    with TransactionConflicts(table, times=100), pytest.raises(ProgressConflictError) as conflict:
        store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_STARTED)]))
    with TransactionConflicts(table, times=1):
        store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_STARTED)]))

    # Then the contended write is a conflict carrying the stored progress, and the retried one is written
    assert conflict.value.progress == progress()
    assert store.get_progress(TENANT, "u-alice") == second
