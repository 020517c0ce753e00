"""Dead-letter tasks (decision 0091): letters read as tasks, the collector, the admins' and operators' service, the
redelivery of a task's work, and the entry points resolving a retried task or recording its failure again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from firstmile import entrypoints
from firstmile.composition import container, reset
from firstmile.errors import DomainError
from firstmile.failures.collector import COLLECTED_PREFIX, Collector
from firstmile.failures.letters import UNRECORDED, from_invocation_letter, from_queue_message, from_stream_failure
from firstmile.failures.models import FailureRecord
from firstmile.failures.redelivery import Redelivery
from firstmile.failures.service import DeadLetters, TaskCaller
from firstmile.failures.tasks import (
    ORIGIN_MESSAGE_ATTRIBUTE,
    TASK_ID_ATTRIBUTE,
    BulkRequest,
    TaskFilter,
    first_sent_of,
    task_id,
)
from firstmile.observability import REDACTED
from local.events import sqs_event
from tests.factories import FakeLambdaContext
from tests.fakes.failures import FakeFailureStore, FakeTaskStore

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
SENT_MS = str(int(T0.timestamp() * 1000))
OPERATOR = TaskCaller("_platform", "operator:op-1", None, "c-1")
ADMIN_A = TaskCaller("t-a", "admin:a-1", "t-a", "c-2")
ADMIN_B = TaskCaller("t-b", "admin:b-1", "t-b", "c-3")


def record(source: str, message_id: str, **fields: Any) -> FailureRecord:
    return FailureRecord(
        task="flag_exposure_worker",
        source=source,
        message_id=message_id,
        exception_type=fields.get("exception_type", "KeyError"),
        message="'day'",
        traceback="Traceback (most recent call last): ...",
        attempts=fields.get("attempts", 5),
        first_failed_at=T0,
        last_failed_at=T0 + timedelta(minutes=4),
        payload=fields.get("payload"),
        tenant=fields.get("tenant"),
    )


def message(message_id: str, body: Any, *, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"r-{message_id}",
        "Body": body if isinstance(body, str) else json.dumps(body),
        "Attributes": {"SentTimestamp": SENT_MS, "ApproximateReceiveCount": "1"},
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()},
    }


def none(_source: str, _message_id: str) -> FailureRecord | None:
    return None


# --- letters --------------------------------------------------------------------------------------------------


def test_a_queue_letter_is_joined_with_its_failure_record() -> None:
    body = {"tenant": "t-a", "day": "2026-12-04", "client_secret": "s3cret"}
    found = {("queue:flag-exposures", "m-1"): record("queue:flag-exposures", "m-1", tenant="t-a", payload=body)}

    draft = from_queue_message(
        message("m-1", body, attributes={"trace": "x"}),
        queue="flag-exposures",
        consumer="flag_exposure_worker",
        dead_letter_queue="flag-exposures-dlq",
        find=lambda s, m: found.get((s, m)),
        now=T0 + timedelta(minutes=5),
    )

    assert draft.task_id == task_id(T0, "queue:flag-exposures", "m-1")
    assert first_sent_of(draft.task_id) == T0
    assert (draft.task, draft.kind, draft.exception_type, draft.attempts, draft.tenant) == (
        "flag_exposure_worker",
        "queue",
        "KeyError",
        5,
        "t-a",
    )
    assert draft.failure_recorded and draft.first_failed_at == T0
    assert draft.body == json.dumps(body) and draft.attributes == {"trace": "x"}


def test_a_queue_letter_without_a_record_says_the_consumer_recorded_nothing_and_redacts_its_payload() -> None:
    draft = from_queue_message(
        message("m-2", {"tenant": "t-a", "password": "hunter2"}),
        queue="privacy-requests",
        consumer="privacy_request_worker",
        dead_letter_queue="privacy-requests-dlq",
        find=none,
        now=T0,
    )

    assert (draft.exception_type, draft.failure_recorded, draft.task) == (UNRECORDED, False, "privacy_request_worker")
    assert draft.payload == {"tenant": "t-a", "password": REDACTED}
    assert draft.tenant == "t-a"


def test_a_retried_message_comes_back_as_its_task_keyed_by_its_first_message() -> None:
    marks = {TASK_ID_ATTRIBUTE: "20261201T090000000-00000000000000aa", ORIGIN_MESSAGE_ATTRIBUTE: "m-first"}
    draft = from_queue_message(
        message("m-second", {"tenant": "t-a"}, attributes={**marks, "trace": "x"}),
        queue="flag-exposures",
        consumer="flag_exposure_worker",
        dead_letter_queue="flag-exposures-dlq",
        find=none,
        now=T0,
    )

    assert (draft.task_id, draft.message_id, draft.letter_id) == (
        "20261201T090000000-00000000000000aa",
        "m-first",
        "m-second",
    )
    assert draft.attributes == {"trace": "x"}  # the marks are not the message's own


def test_lambdas_on_failure_record_of_a_scheduled_run_becomes_a_schedule_task() -> None:
    event = {"id": "run-1", "source": "aws.scheduler", "detail": {"attempt-number": 1}}
    letter = {
        "requestContext": {
            "functionArn": "arn:aws:lambda:eu-west-1:1:function:firstmile-prod-eu-privacy_retention_job:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responsePayload": {"errorType": "TimeoutError", "errorMessage": "slow", "stackTrace": ["a", "b"]},
    }

    draft = from_invocation_letter(message("d-1", letter), dead_letter_queue="scheduler-dlq", find=none, now=T0)

    assert (draft.kind, draft.task, draft.source, draft.message_id) == (
        "schedule",
        "privacy_retention_job",
        "schedule:privacy_retention_job",
        "run-1",
    )
    assert (draft.exception_type, draft.message, draft.traceback, draft.attempts) == ("TimeoutError", "slow", "a\nb", 3)
    assert json.loads(draft.body) == event


def test_schedulers_own_dead_letter_and_a_retried_stream_batch_are_read_too() -> None:
    delivered = message(
        "d-2",
        {"id": "run-2", "source": "aws.scheduler"},
        attributes={"ERROR_CODE": "AccessDenied", "TARGET_ARN": "arn:aws:lambda:r:1:function:x-synthetic_probe"},
    )
    draft = from_invocation_letter(delivered, dead_letter_queue="scheduler-dlq", find=none, now=T0)
    assert (draft.task, draft.exception_type, draft.message_id) == ("synthetic_probe", "AccessDenied", "run-2")

    batch = {
        "Records": [{"eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "42"}}],
        TASK_ID_ATTRIBUTE: "20261201T090000000-00000000000000bb",
        ORIGIN_MESSAGE_ATTRIBUTE: "40",
    }
    failed = {
        "requestContext": {"functionArn": "arn:aws:lambda:r:1:function:funnel_aggregator"},
        "requestPayload": batch,
    }
    draft = from_invocation_letter(message("d-3", failed), dead_letter_queue="scheduler-dlq", find=none, now=T0)
    assert (draft.kind, draft.task_id, draft.message_id) == ("stream", "20261201T090000000-00000000000000bb", "40")
    assert TASK_ID_ATTRIBUTE not in json.loads(draft.body)


def test_a_failed_stream_batch_becomes_a_task_reading_its_kept_object() -> None:
    document = {
        "requestContext": {
            "functionArn": "arn:aws:lambda:r:1:function:analytics_archiver",
            "approximateInvokeCount": 6,
        },
        "responseContext": {"functionError": "Unhandled"},
        "DDBStreamBatchInfo": {
            "startSequenceNumber": "100",
            "batchSize": 3,
            "approximateArrivalOfFirstRecord": T0.isoformat(),
        },
        "payload": json.dumps({"Records": []}),
    }
    found = {("stream:analytics_archiver", "100"): record("stream:analytics_archiver", "100", exception_type="OSError")}

    draft = from_stream_failure(
        document, key="aws/lambda/k", kept_at="collected/aws/lambda/k", find=lambda s, m: found.get((s, m)), now=T0
    )

    assert (draft.kind, draft.task_id, draft.exception_type, draft.body) == (
        "stream",
        task_id(T0, "stream:analytics_archiver", "100"),
        "OSError",
        "collected/aws/lambda/k",
    )


# --- the collector --------------------------------------------------------------------------------------------


class Letters:
    def __init__(self, queues: dict[str, list[dict[str, Any]]]) -> None:
        self.queues = queues
        self.deleted: list[str] = []

    def receive(self, name: str, *, at_most: int = 10, hide_seconds: int = 60) -> list[dict[str, Any]]:
        waiting = [m for m in self.queues.get(name, []) if m["ReceiptHandle"] not in self.deleted]
        taken, self.queues[name] = waiting[:at_most], waiting[at_most:]
        return taken

    def delete(self, name: str, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)


class Batches:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(k for k in self.objects if k.startswith(prefix))

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def move(self, key: str, to: str) -> None:
        self.objects[to] = self.objects.pop(key)


def collector(tasks: FakeTaskStore, letters: Letters, batches: Batches, now: datetime = T0) -> Collector:
    return Collector(
        tasks,
        letters=letters,
        batches=batches,
        find=FakeFailureStore().get,
        consumers={"flag-exposures-dlq": ("flag-exposures", "flag_exposure_worker")},
        invocations="scheduler-dlq",
        clock=lambda: now,
    )


def test_the_collector_turns_every_letter_into_a_task_and_only_then_lets_it_go() -> None:
    tasks = FakeTaskStore()
    letters = Letters(
        {
            "flag-exposures-dlq": [message(f"m-{n}", {"tenant": "t-a"}) for n in range(12)],
            "scheduler-dlq": [message("d-1", {"id": "run-1", "source": "aws.scheduler"})],
        }
    )
    batch = {
        "requestContext": {"functionArn": "arn:aws:lambda:r:1:function:funnel_aggregator"},
        "DDBStreamBatchInfo": {"startSequenceNumber": "7"},
        "payload": "{}",
    }
    batches = Batches({"aws/lambda/m/s/2026/12/04/x": json.dumps(batch).encode(), "other/key": b"{}"})

    summary = collector(tasks, letters, batches).run(budget_seconds=30)

    assert (summary.new, summary.unreadable) == (14, 0)
    assert len(letters.deleted) == 13
    assert set(batches.objects) == {f"{COLLECTED_PREFIX}aws/lambda/m/s/2026/12/04/x", "other/key"}
    assert tasks.counters(None)["t:flag_exposure_worker"] == 12
    assert tasks.counters("t-a")["total"] == 12

    # Collected again (a crash before the delete): the same tasks, nothing new
    again = Letters({"flag-exposures-dlq": [message("m-1", {"tenant": "t-a"})]})
    assert collector(tasks, again, Batches({})).run(budget_seconds=30).known == 1
    assert tasks.counters(None)["total"] == 14


def test_a_letter_of_no_known_shape_is_still_kept_as_a_task_and_old_tasks_expire() -> None:
    tasks = FakeTaskStore()
    letters = Letters({"scheduler-dlq": [message("odd", "not json at all")]})
    summary = collector(tasks, letters, Batches({})).run(budget_seconds=30)
    [odd] = tasks.tasks.values()
    assert (summary.new, letters.deleted, odd["task"], odd["exception_type"]) == (1, ["r-odd"], "unknown", UNRECORDED)
    assert odd["body"] == json.dumps({"event": "not json at all"}, separators=(",", ":"))

    collector(tasks, Letters({"flag-exposures-dlq": [message("m-old", {})]}), Batches({})).run(budget_seconds=30)
    later = collector(tasks, Letters({}), Batches({}), now=T0 + timedelta(days=31))
    assert later.run(budget_seconds=30).expired == 2  # both were first sent at T0: over 30 days before
    assert tasks.counters(None) == {}


# --- the service ----------------------------------------------------------------------------------------------


class Redelivered:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, task: dict[str, Any]) -> None:
        self.sent.append(task["task_id"])


@pytest.fixture
def tasks() -> FakeTaskStore:
    store = FakeTaskStore()
    for n, tenant in ((1, "t-a"), (2, "t-a"), (3, "t-b"), (4, None)):
        letters = Letters({"flag-exposures-dlq": [message(f"m-{n}", {"tenant": tenant} if tenant else {})]})
        collector(store, letters, Batches({}), now=T0 + timedelta(minutes=n)).run(budget_seconds=30)
    return store


def service(tasks: FakeTaskStore, sent: Redelivered | None = None) -> DeadLetters:
    return DeadLetters(tasks, audit=tasks.audit, redeliver=sent or Redelivered(), clock=lambda: T0 + timedelta(hours=3))


def test_admins_see_their_tenants_tasks_and_operators_see_every_task(tasks: FakeTaskStore) -> None:
    letters = service(tasks)
    mine = letters.list("t-a", TaskFilter(), limit=10, cursor=None)
    assert (len(mine.items), mine.total) == (2, 2) and {t.tenant for t in mine.items} == {"t-a"}
    assert letters.list(None, TaskFilter(), limit=10, cursor=None).total == 4
    foreign = next(t for t in tasks.tasks.values() if t["tenant"] == "t-b")["task_id"]
    with pytest.raises(DomainError) as refused:
        letters.get("t-a", foreign)
    assert refused.value.code == "RES_TASK_NOT_FOUND"
    stats = letters.stats(None)
    assert (stats.total_tasks, stats.tasks_by_type, stats.tasks_by_state) == (
        4,
        {"flag_exposure_worker": 4},
        {"dead": 4},
    )
    assert stats.oldest_task_age_hours == 3.0


def test_a_retry_sends_the_work_back_once_and_is_audited_in_the_callers_chain(tasks: FakeTaskStore) -> None:
    sent = Redelivered()
    letters = service(tasks, sent)
    mine = letters.list("t-a", TaskFilter(), limit=10, cursor=None).items[0].task_id

    answer = letters.retry(ADMIN_A, mine)

    assert (answer.status, sent.sent) == ("queued", [mine])
    detail = letters.get("t-a", mine)
    assert (detail.state, detail.retries, [e.event for e in detail.history]) == (
        "queued",
        1,
        ["dead_lettered", "retried"],
    )
    with pytest.raises(DomainError) as again:
        letters.retry(ADMIN_A, mine)
    assert again.value.code == "BIZ_TASK_STATE" and sent.sent == [mine]
    entries = tasks.audit.list_entries("t-a", limit=10).items
    assert [(e.action, e.actor, e.target) for e in entries] == [("dlq.task_retried", "admin:a-1", f"task:{mine}")]


def test_clear_and_redrive_are_dry_runs_unless_asked_and_stay_in_scope(tasks: FakeTaskStore) -> None:
    sent = Redelivered()
    letters = service(tasks, sent)

    dry = letters.clear(ADMIN_B, BulkRequest())
    assert (dry.dry_run, dry.matched, dry.done, dry.remaining) == (True, 1, 0, 1)
    assert letters.stats("t-b").total_tasks == 1

    redriven = letters.redrive(OPERATOR, BulkRequest(dry_run=False, limit=2))
    assert (redriven.matched, redriven.done, redriven.remaining) == (4, 2, 2)
    assert sent.sent == redriven.task_ids

    cleared = letters.clear(ADMIN_A, BulkRequest(dry_run=False))
    assert cleared.done == 2 and letters.stats("t-a").total_tasks == 0
    assert letters.stats(None).total_tasks == 2
    actions = [e.action for e in tasks.audit.list_entries("_platform", limit=10).items]
    assert actions == ["dlq.redriven"]


# --- redelivery -----------------------------------------------------------------------------------------------


def test_a_tasks_work_goes_back_to_its_queue_or_its_function_marked_with_the_task() -> None:
    class Queues:
        sent: list[tuple[str, str, dict[str, str]]] = []

        def send(self, name: str, body: str, attributes: dict[str, str]) -> str:
            self.sent.append((name, body, attributes))
            return "new-id"

    queues, invoked = Queues(), []
    batches = {"collected/k": json.dumps({"payload": json.dumps({"Records": [1]})}).encode()}
    redeliver = Redelivery(queues, lambda name, event: invoked.append((name, event)), Batches(batches))
    marks = {TASK_ID_ATTRIBUTE: "t-1", ORIGIN_MESSAGE_ATTRIBUTE: "m-1"}

    redeliver(
        {
            "task_id": "t-1",
            "message_id": "m-1",
            "kind": "queue",
            "source": "queue:q",
            "body": "{}",
            "attributes": {"a": "b"},
        }
    )
    redeliver({"task_id": "t-1", "message_id": "m-1", "kind": "schedule", "task": "job", "body": '{"id": "r"}'})
    redeliver({"task_id": "t-1", "message_id": "m-1", "kind": "stream", "task": "agg", "body": "collected/k"})

    assert queues.sent == [("q", "{}", {"a": "b", **marks})]
    assert invoked == [("job", {"id": "r", **marks}), ("agg", {"Records": [1], **marks})]


# --- entry points ---------------------------------------------------------------------------------------------


@pytest.fixture
def wired() -> Iterator[tuple[FakeFailureStore, FakeTaskStore]]:
    reset()
    failures, tasks = FakeFailureStore(), FakeTaskStore()
    container().failure_store = failures  # type: ignore[misc]
    container().dead_letter_tasks = tasks  # type: ignore[misc]
    yield failures, tasks
    reset()


def test_a_retried_message_resolves_its_task_on_success_and_records_on_its_first_message_on_failure(
    wired: tuple[FakeFailureStore, FakeTaskStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    failures, tasks = wired
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "flag_exposure_worker")
    letters = Letters({"flag-exposures-dlq": [message("m-1", {"tenant": "t-a"})]})
    collector(tasks, letters, Batches({})).run(budget_seconds=30)
    [task] = tasks.tasks.values()
    marks = {TASK_ID_ATTRIBUTE: task["task_id"], ORIGIN_MESSAGE_ATTRIBUTE: "m-1"}
    arn = "arn:aws:sqs:us-east-1:1:firstmile-local-flag-exposures"

    def fails(_record: Any) -> None:
        raise KeyError("day")

    failing = entrypoints.sqs_batch(fails)
    with pytest.raises(BatchProcessingError):  # a batch of one that failed whole: the message returns
        failing(sqs_event([message("m-2", {"tenant": "t-a"}, attributes=marks)], arn), FakeLambdaContext())
    assert failures.get("queue:flag-exposures", "m-1") is not None  # the first message's record
    assert failures.get("queue:flag-exposures", "m-2") is None
    assert task["task_id"] in tasks.tasks

    succeeding = entrypoints.sqs_batch(lambda _record: None)
    answer = succeeding(sqs_event([message("m-3", {"tenant": "t-a"}, attributes=marks)], arn), FakeLambdaContext())
    assert answer["batchItemFailures"] == []
    assert tasks.tasks == {}


def test_a_retried_job_resolves_its_task_and_a_retried_stream_batch_that_still_fails_raises(
    wired: tuple[FakeFailureStore, FakeTaskStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    failures, tasks = wired
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "firstmile-prod-funnel_aggregator")
    letters = Letters({"scheduler-dlq": [message("d-1", {"id": "run-1", "source": "aws.scheduler"})]})
    collector(tasks, letters, Batches({})).run(budget_seconds=30)
    [task] = tasks.tasks.values()
    marks = {TASK_ID_ATTRIBUTE: task["task_id"], ORIGIN_MESSAGE_ATTRIBUTE: "40"}
    batch = {"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "40"}}], **marks}

    still_failing = entrypoints.stream_in_order(lambda records: [{"itemIdentifier": "40", "error": OSError("s3")}])
    with pytest.raises(RuntimeError, match="still fails"):
        still_failing(batch, FakeLambdaContext())
    kept = failures.get("stream:funnel_aggregator", "40")
    assert kept is not None and kept.exception_type == "OSError"

    seen: list[dict[str, Any]] = []
    job = entrypoints.job(lambda event: seen.append(event) or {})
    job({"id": "run-1", **marks}, FakeLambdaContext())
    assert seen == [{"id": "run-1"}]  # the marks are the entry point's, not the job's
    assert tasks.tasks == {}
