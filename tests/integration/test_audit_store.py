"""The audit log against the emulator: appends that never fork, a change written in the same transaction as its
entry, listing by keys, and tamper detection."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from firstmile.audit.models import AuditEvent
from firstmile.audit.store import MAX_CHANGE_ITEMS, AuditAppendContendedError, AuditStore
from firstmile.errors import DependencyUnavailableError
from firstmile.platform import aws
from tests.contracts.audit import AuditLogContract
from tests.factories import FakeClock
from tests.integration.conftest import Deployment
from tests.integration.transaction_faults import lost_answers, refused_transactions


def event(n: int, *, actor: str = "admin:u-1", action: str = "flag.updated", tenant: str = "t-acme") -> AuditEvent:
    return AuditEvent(tenant=tenant, actor=actor, action=action, target=f"flag:f-{n}", correlation_id=f"c-{n}")


@pytest.fixture
def audit(deployment: Deployment) -> tuple[AuditStore, FakeClock]:
    clock = FakeClock()
    return AuditStore(aws.table(deployment.table_name), clock=clock), clock


class TestAuditStoreContract(AuditLogContract):
    """The audit log's contract, on the table engine."""

    implementation = AuditStore

    @pytest.fixture
    def audit_log(self, deployment: Deployment, clock: FakeClock) -> AuditStore:
        return AuditStore(aws.table(deployment.table_name), clock=clock)


def entry_key(deployment: Deployment, sequence: int) -> dict[str, str]:
    items = deployment.table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues={":pk": "TENANT#t-acme#AUDIT", ":e": "ENTRY#"},
    )["Items"]
    item = next(i for i in items if i["sequence"] == sequence)
    return {"pk": item["pk"], "sk": item["sk"]}


def test_tampering_with_one_stored_entry_makes_verify_report_exactly_that_entry(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock]
) -> None:
    # Given a chain of six entries
    store, clock = audit
    for n in range(6):
        clock.now += 1
        store.record(event(n))

    # When someone with table access rewrites the target of entry 4
    deployment.table.update_item(
        Key=entry_key(deployment, 4),
        UpdateExpression="SET target = :t",
        ExpressionAttributeValues={":t": "flag:something-else"},
    )

    # Then verify reports entry 4, and only it, as the first broken link
    report = store.verify("t-acme")
    assert not report.ok and report.checked == 3
    assert report.first_broken is not None
    assert (report.first_broken.sequence, report.first_broken.reason) == (4, "hash_mismatch")


def test_a_deleted_entry_and_a_removed_attribute_are_reported(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock]
) -> None:
    store, _ = audit
    for n in range(5):
        store.record(event(n))

    deployment.table.update_item(Key=entry_key(deployment, 4), UpdateExpression="REMOVE actor")
    unreadable = store.verify("t-acme").first_broken
    deployment.table.delete_item(Key=entry_key(deployment, 2))
    gap = store.verify("t-acme").first_broken

    assert unreadable is not None and (unreadable.sequence, unreadable.reason) == (4, "unreadable")
    assert gap is not None and (gap.sequence, gap.reason) == (2, "sequence_gap")


def test_concurrent_appends_never_fork_the_chain(deployment: Deployment, audit: tuple[AuditStore, FakeClock]) -> None:
    _, clock = audit
    writers, per_writer = 4, 4
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        # One store (and boto3 resource) per thread, like one Lambda container each.
        store = AuditStore(deployment.table, clock=clock)
        start.wait()
        try:
            for n in range(per_writer):
                store.record(event(worker * 100 + n, actor=f"admin:u-{worker}"))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    store = audit[0]
    assert failures == []
    report = store.verify("t-acme")
    assert report.ok and report.checked == writers * per_writer and report.head_sequence == writers * per_writer
    listed = store.list_entries("t-acme", limit=100).items
    assert sorted(e.target for e in listed) == sorted(
        f"flag:f-{w * 100 + n}" for w in range(writers) for n in range(per_writer)
    )


def test_an_append_that_keeps_losing_gives_up_as_unavailable(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a chain of one entry, and a store that always reads the head as it was before that entry
    naps: list[float] = []
    store = AuditStore(aws.table(deployment.table_name), max_attempts=3, sleep=naps.append)
    store.record(event(1))
    monkeypatch.setattr(store, "head", lambda tenant: None)

    # When it appends, its head condition fails every time
    with pytest.raises(AuditAppendContendedError):
        store.record(event(2))

    # Then it paused between its attempts, gave up, and wrote nothing
    assert len(naps) == 3 and all(0 <= nap <= 0.25 for nap in naps)
    assert AuditStore(aws.table(deployment.table_name)).verify("t-acme").checked == 1


# --- a change and its entry in one transaction ---------------------------------------------------------------


def counter_add(deployment: Deployment, pk: str = "COUNTER#c-1", *, condition: str | None = None) -> dict[str, Any]:
    """A change for the tests: add one to a counter item (on ``condition``, when given)."""
    update: dict[str, Any] = {
        "TableName": deployment.table_name,
        "Key": {"pk": pk, "sk": "COUNTER"},
        "UpdateExpression": "ADD #n :one",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":one": 1},
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def counted(deployment: Deployment, pk: str = "COUNTER#c-1") -> int | None:
    item = deployment.table.get_item(Key={"pk": pk, "sk": "COUNTER"}, ConsistentRead=True).get("Item")
    return int(item["n"]) if item else None


def test_a_change_and_its_entry_are_stored_together(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock]
) -> None:
    store, _ = audit

    refused = store.transact([counter_add(deployment)], event(1))

    assert refused is None
    assert counted(deployment) == 1
    assert [e.target for e in store.list_entries("t-acme").items] == ["flag:f-1"]
    assert store.verify("t-acme").ok


def test_a_change_whose_condition_fails_leaves_no_entry(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock]
) -> None:
    # Given a chain of one entry
    store, _ = audit
    store.record(event(1))

    # When a change on condition that its item exists (it does not) is written with an entry
    reasons = store.transact([counter_add(deployment, condition="attribute_exists(pk)")], event(2))

    # Then the change's own refusal comes back, and neither it nor the entry was stored
    assert reasons is not None and [r["Code"] for r in reasons] == ["ConditionalCheckFailed"]
    assert counted(deployment) is None
    report = store.verify("t-acme")
    assert (report.ok, report.checked) == (True, 1)


def test_a_change_that_lost_the_head_is_sent_again_and_applied_once(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store whose first read of the head is followed at once by another container's append
    store, clock = audit
    other = AuditStore(aws.table(deployment.table_name), clock=clock)
    reads: list[int] = []
    read_head = store.head

    def head_then_raced(tenant: str) -> Any:
        current = read_head(tenant)
        reads.append(1)
        if len(reads) == 1:
            other.record(event(99, actor="admin:u-2"))
        return current

    monkeypatch.setattr(store, "head", head_then_raced)

    # When it writes a change with its entry
    assert store.transact([counter_add(deployment)], event(1)) is None

    # Then the change went in once, after the other entry, and the chain did not fork
    assert len(reads) == 2
    assert counted(deployment) == 1
    assert [e.target for e in store.list_entries("t-acme").items] == ["flag:f-1", "flag:f-99"]
    report = store.verify("t-acme")
    assert (report.ok, report.checked) == (True, 2)


@pytest.mark.parametrize("resent", [False, True], ids=["no-answer", "resent-as-new"])
def test_a_change_whose_answer_was_lost_counts_once(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock], resent: bool
) -> None:
    store, _ = audit
    table = aws.table(deployment.table_name)

    with lost_answers(table, deployment.endpoint, resent=resent) as sent:
        refused = store.transact([counter_add(deployment)], event(1))

    assert refused is None and sent.count == 1
    assert counted(deployment) == 1
    report = store.verify("t-acme")
    assert (report.ok, report.checked) == (True, 1)


def test_a_failed_transaction_stores_neither_the_change_nor_the_entry(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock]
) -> None:
    store, _ = audit

    with refused_transactions(aws.table(deployment.table_name)), pytest.raises(DependencyUnavailableError):
        store.transact([counter_add(deployment)], event(1))

    assert counted(deployment) is None
    assert store.head("t-acme") is None and store.list_entries("t-acme").items == []


def test_a_change_that_cannot_share_a_transaction_with_its_entry_is_refused_before_sending(
    deployment: Deployment, audit: tuple[AuditStore, FakeClock]
) -> None:
    store, _ = audit
    too_many = [counter_add(deployment, f"COUNTER#c-{n}") for n in range(MAX_CHANGE_ITEMS + 1)]
    twice = [counter_add(deployment), counter_add(deployment)]
    into_the_log = [counter_add(deployment, "TENANT#t-acme#AUDIT")]

    for change in (too_many, twice, into_the_log):
        with pytest.raises(ValueError):
            store.transact(change, event(1))

    assert store.transact(too_many[:MAX_CHANGE_ITEMS], event(1)) is None
    assert counted(deployment, f"COUNTER#c-{MAX_CHANGE_ITEMS - 1}") == 1
