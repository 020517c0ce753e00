"""Data subject requests against the table engine and the emulated bucket (decision 0083): an export holds what the
user's actions stored, and an erasure removes it all however often it crashes on the way, with the audit chain
still verifying."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firstmile.composition import container, reset
from firstmile.config import reset_settings
from firstmile.flags.models import Flag, Segment
from firstmile.identifiers import user_partition
from firstmile.identity.store import revocations_partition
from firstmile.onboarding.models import StepAction, StepCommand
from firstmile.platform.gateway import partition
from firstmile.privacy.consent import ConsentChange
from firstmile.privacy.notifier import read_outbox
from firstmile.privacy.processing import RequestProcessor
from firstmile.privacy.requests import CodeCheck, ErasureStep, RequestState
from functions.catalog import TableStream, by_name
from local.events import stream_event
from tests.contracts.identity import family
from tests.factories import FakeLambdaContext, load_handler
from tests.integration.conftest import Deployment
from tests.integration.test_analytics_aggregator import stream_records
from tests.integration.test_onboarding_user_routes import ADMIN, publish_default_flow

TENANT = "t-acme"
USER, OTHER = "u-1", "u-2"


class Crash(Exception):
    """Stands for the worker's process dying."""


@pytest.fixture
def outbox(deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Both users with progress, events (archived), consent, a session, a segment naming them, audit entries
    about them; the archive and the exports in the test's bucket; codes to an outbox file."""
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("FIRSTMILE_ARCHIVE_BUCKET", deployment.bucket)
    monkeypatch.setenv("FIRSTMILE_NOTIFIER_OUTBOX", str(path))
    # The partition step waits out the revocation bound (the cache's seconds, plus one): one second here.
    monkeypatch.setenv("FIRSTMILE_REVOCATION_CACHE_SECONDS", "0")
    reset_settings()
    reset()
    publish_default_flow(TENANT)
    parts = container()
    for n, user in enumerate((USER, OTHER), start=1):
        parts.progress.status(TENANT, user, attributes={"country": "DE"})
        parts.progress.step(TENANT, user, StepCommand(step_id="welcome", action=StepAction.COMPLETE), None)
        parts.consents.change(
            TENANT, user, ConsentChange.model_validate({"purposes": {"marketing": True}, "policy_version": "1"})
        )
        parts.identity_store.start_family(family(n, user))
    parts.session_service.revoke_session(TENANT, USER, family(1).family_id, actor=f"user:{USER}", reason="logout")
    parts.flag_controls.put_segment(TENANT, "beta", Segment(key="beta", users=[USER, OTHER]), actor=ADMIN)
    targeting = {
        "key": "early",
        "enabled": True,
        "rules": [
            {
                "id": "named",
                "conditions": [{"attribute": "user_id", "operator": "in", "value": [USER]}],
                "serve": {"value": True},
            }
        ],
    }
    parts.flag_admin.create_flag(TENANT, Flag.model_validate(targeting), actor=ADMIN)
    _archive(deployment)
    return path


def _archive(deployment: Deployment) -> None:
    """Hand the stream's onboarding events to the archiver, as its mapping does."""
    records, arn = stream_records(deployment)
    trigger = by_name("analytics_archiver").trigger
    assert isinstance(trigger, TableStream)
    admitted = [r for r in records if trigger.admits(r)]
    answer = load_handler("analytics_archiver").lambda_handler(stream_event(admitted, arn), FakeLambdaContext())
    assert answer == {"batchItemFailures": []}


def _archived_users(deployment: Deployment) -> list[str]:
    s3 = deployment.client("s3")
    listed = s3.list_objects_v2(Bucket=deployment.bucket, Prefix="events/").get("Contents", [])
    return sorted(
        json.loads(line)["user"]
        for entry in listed
        for line in gzip.decompress(s3.get_object(Bucket=deployment.bucket, Key=entry["Key"])["Body"].read()).split()
    )


def _queued(deployment: Deployment) -> Iterator[dict[str, Any]]:
    sqs = deployment.client("sqs")
    url = deployment.queue_urls["privacy-requests"]
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not answer.get("Messages"):
            return
        for message in answer["Messages"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            yield json.loads(message["Body"])


def _partition_kinds(user: str) -> list[str]:
    items = container().table.query_all(partition(user_partition(TENANT, user)), consistent=True)
    return sorted(str(item.get("kind")) for item in items)


def _erased_everywhere_but_the_revocations(user: str) -> bool:
    """What an erasure leaves: an empty partition, and beside it the revocation marks that refuse the user's access
    tokens, each expiring within the access-token lifetime and a minute, holding nothing but times."""
    if list(container().table.query_all(partition(user_partition(TENANT, user)), consistent=True)):
        return False
    marks = list(container().table.query_all(partition(revocations_partition(TENANT, user)), consistent=True))
    bound = time.time() + 900 + 60 + 5
    return bool(marks) and all(
        mark["kind"] == "revocation" and float(mark["expires_at"]) <= bound and set(mark) <= _REVOCATION_FIELDS
        for mark in marks
    )


_REVOCATION_FIELDS = {"pk", "sk", "kind", "expires_at", "revoked_before"}


def _verified_erasure(outbox: Path) -> str:
    rights = container().data_rights
    asked = rights.request_erasure(TENANT, USER, None)
    code = read_outbox(str(outbox))[-1]["code"]
    rights.verify(TENANT, USER, CodeCheck(request_id=asked.request_id, code=code))
    rights.execute(TENANT, USER, asked.request_id)
    return asked.request_id


def test_an_export_holds_everything_the_users_actions_stored_and_nothing_of_others(
    deployment: Deployment, outbox: Path
) -> None:
    # When the user asks for an export and the worker takes the queued message
    asked = container().data_rights.request_export(TENANT, USER)
    (message,) = list(_queued(deployment))
    container().request_processor.process(message["tenant"], message["request_id"])

    # Then the request is complete with a link, and the package is the export schema's, version 1
    done = container().data_rights.status(TENANT, USER, asked.request_id)
    assert done.state is RequestState.COMPLETE and done.download_url
    stored = container().privacy_requests.get(TENANT, asked.request_id)
    assert stored is not None and stored.export_key
    body = deployment.client("s3").get_object(Bucket=deployment.bucket, Key=stored.export_key)
    assert body["ContentType"] == "application/json"
    package = json.loads(body["Body"].read())
    assert (package["schema"], package["schema_version"], package["user"]) == ("firstmile.export", 1, USER)
    items = package["items"]
    assert {"onboarding_progress", "onboarding_event", "consent_state", "consent_record", "session_family"} <= set(
        items
    )
    assert [e["type"] for e in items["onboarding_event"]][:2] == ["enrolled", "step_completed"]
    assert all("hash" not in name for item in items["session_family"] for name in item)
    assert package["flag_targeting"] == ["segment:beta", "flag:early", "flag:early@v1"]
    assert {e["action"] for e in package["audit_entries"]} >= {"session.revoked", "privacy.export.requested"}
    assert {e["user"] for e in package["archived_events"]} == {USER}
    assert len(package["archived_events"]) == len(items["onboarding_event"])
    assert OTHER not in json.dumps(package)


def test_an_erasure_removes_everything_of_the_user_and_keeps_the_chain_verifying(
    deployment: Deployment, outbox: Path
) -> None:
    # Given an export made earlier, and a verified, executed erasure
    export = container().data_rights.request_export(TENANT, USER)
    container().request_processor.process(TENANT, export.request_id)
    request_id = _verified_erasure(outbox)
    assert [m["request_id"] for m in _queued(deployment)] == [export.request_id, request_id]

    # When the worker carries it out
    container().request_processor.process(TENANT, request_id)

    # Then the user's partition is empty (their revocations, beside it, expire by themselves); the other user's kept
    assert _erased_everywhere_but_the_revocations(USER)
    assert "onboarding_progress" in _partition_kinds(OTHER)
    # Their archived events, export package and sessions are gone; the segment names only the other user
    assert _archived_users(deployment) == [OTHER, OTHER]
    s3 = deployment.client("s3")
    assert s3.list_objects_v2(Bucket=deployment.bucket, Prefix="exports/").get("KeyCount") == 0
    assert container().identity_store.list_families(TENANT, USER) == []
    assert container().flag_store.load(TENANT).segments["beta"].users == [OTHER]
    # The audit log names them nowhere and still verifies
    audit = container().audit_store
    assert audit.entries_naming(TENANT, USER) == []
    assert USER not in json.dumps([e.model_dump(mode="json") for e in audit.list_entries(TENANT, limit=100).items])
    assert audit.verify(TENANT).ok
    # The receipt counts what went, by category, and names nobody
    done = container().data_rights.status(TENANT, USER, request_id)
    assert done.state is RequestState.COMPLETE and done.receipt is not None
    assert done.receipt["onboarding_event"] == 2 and done.receipt["archived_events"] == 2
    assert done.receipt["export_packages"] == 1 and done.receipt["flag_targeting"] == 3
    assert container().flag_erasure.naming(TENANT, USER) == []
    assert USER not in json.dumps(done.receipt)
    # And a late event of theirs is never archived
    assert container().privacy_requests.tombstoned([(TENANT, USER), (TENANT, OTHER)]) == {(TENANT, USER)}
    _archive(deployment)
    assert _archived_users(deployment) == [OTHER, OTHER]


@pytest.mark.parametrize("crash_after", [step.value for step in ErasureStep])
def test_a_crash_after_any_step_then_a_redelivery_ends_in_the_same_state(
    deployment: Deployment, outbox: Path, crash_after: str
) -> None:
    # Given a verified erasure, and a worker that dies after the step's work, before it is recorded
    request_id = _verified_erasure(outbox)
    parts = container()

    def die(step: str) -> None:
        if step == crash_after:
            raise Crash(step)

    crashing = RequestProcessor(
        parts.privacy_requests,
        partition=parts.request_processor._partition,  # noqa: SLF001 - the same parts, one hook added
        audit=parts.audit_store,
        sessions=parts.session_service,
        session_items=parts.identity_store,
        flags=parts.flag_erasure,
        archive=parts.request_processor._archive,  # noqa: SLF001
        exports=parts.export_objects,
        after_step=die,
    )
    with pytest.raises(Crash):
        crashing.process(TENANT, request_id)

    # When the message is delivered again to a worker that does not crash
    parts.request_processor.process(TENANT, request_id)

    # Then the end state is an uninterrupted run's
    done = parts.privacy_requests.get(TENANT, request_id)
    assert done is not None and done.state is RequestState.COMPLETE
    assert done.steps_done == [step.value for step in ErasureStep]
    assert _erased_everywhere_but_the_revocations(USER)
    assert _archived_users(deployment) == [OTHER, OTHER]
    assert parts.audit_store.entries_naming(TENANT, USER) == []
    assert parts.audit_store.verify(TENANT).ok
    assert parts.flag_store.load(TENANT).segments["beta"].users == [OTHER]
    assert done.receipt is not None and done.receipt["onboarding_event"] == 2


def test_after_a_restore_the_erased_users_are_erased_again(deployment: Deployment, outbox: Path) -> None:
    # Given an erased user, and a restore from backup that brought their progress back
    request_id = _verified_erasure(outbox)
    container().request_processor.process(TENANT, request_id)
    list(_queued(deployment))
    backup = {
        "pk": user_partition(TENANT, USER),
        "sk": "ONBOARDING#PROGRESS",
        "kind": "onboarding_progress",
        "enrolled_at": "2026-01-02T03:04:05Z",
    }
    deployment.table.put_item(Item=backup)

    # When the deadline job is invoked to reapply the erasures, and the worker takes what it queued
    job = load_handler("privacy_deadline_job")
    summary = job.lambda_handler({"reapply_erasures": True}, FakeLambdaContext())
    assert summary == {"tombstones": 1, "erased_again": 1, "returned": 0}
    (message,) = list(_queued(deployment))
    done = container().request_processor.process(message["tenant"], message["request_id"])

    # Then the user is erased again, by the system, and the other user kept
    assert done is not None and (done.state, done.source) == (RequestState.COMPLETE, "system:restore")
    assert _erased_everywhere_but_the_revocations(USER)
    assert "onboarding_progress" in _partition_kinds(OTHER)
    assert job.lambda_handler({"reapply_erasures": True}, FakeLambdaContext()) == {
        "tombstones": 1,
        "erased_again": 0,
        "returned": 0,
    }
    # ...while a user who came back after their erasure (only newer items) is left alone
    container().progress.status(TENANT, USER)
    assert job.lambda_handler({"reapply_erasures": True}, FakeLambdaContext())["returned"] == 1


def test_a_closed_request_is_deleted_by_the_retention_job_once_its_retention_has_passed(
    deployment: Deployment, outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an export completed under a one-day retention of closed requests, and one still open
    monkeypatch.setenv("FIRSTMILE_PRIVACY_REQUEST_RETENTION_DAYS", "1")
    reset_settings()
    reset()
    done = container().data_rights.request_export(TENANT, USER)
    container().request_processor.process(TENANT, done.request_id)
    still_open = container().data_rights.request_erasure(TENANT, OTHER, None)
    job = load_handler("privacy_retention_job")

    # When the retention job runs today, and again two days later
    assert job.lambda_handler({}, FakeLambdaContext()) == {"deleted": 0}
    later = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr(container().retention, "_clock", lambda: later)
    summary = job.lambda_handler({}, FakeLambdaContext())

    # Then the closed request went, with its index entry; the open one stays
    assert summary == {"deleted": 1, "deleted.privacy_request": 1}
    assert container().privacy_requests.get(TENANT, done.request_id) is None
    assert container().privacy_requests.get(TENANT, still_open.request_id) is not None
    assert job.lambda_handler({}, FakeLambdaContext()) == {"deleted": 0}
    # ...and after a stop longer than its look-back, one run from the first day missed catches up
    monkeypatch.setattr(container().retention, "_clock", lambda: later + timedelta(days=40))
    assert job.lambda_handler({"since": later.date().isoformat()}, FakeLambdaContext()) == {"deleted": 0}


def test_archived_events_the_table_no_longer_keeps_are_erased_too(deployment: Deployment, outbox: Path) -> None:
    # Given a user whose events the table has already expired (a tenant keeping events shorter than the archive)
    table = container().table
    events = table.query_all(partition(user_partition(TENANT, USER)).begins_with("ONBOARDING#EVENT#"), consistent=True)
    table.delete_many([{"pk": item["pk"], "sk": item["sk"]} for item in events])
    assert USER in _archived_users(deployment)

    # When they are erased
    container().request_processor.process(TENANT, _verified_erasure(outbox))

    # Then their archived events are gone all the same
    assert _archived_users(deployment) == [OTHER, OTHER]
