"""Queue and stream pollers feeding real consumer instances, against the emulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firstmile.platform.resources import STREAM_FAILURES_BUCKET
from functions.catalog import Queue, TableStream
from local.config import LocalConfig
from local.emulator import client
from local.pollers import StreamPoller
from local.resources import create_resources, deployment_for
from local.stack import LocalStack
from tests.integration.local_fixtures import FixtureFunction, read_journal, wait_for

STREAM_RETRIES = 1

CATALOG = (
    # A one-second timeout gives the queues a six-second visibility timeout, which keeps the redrive test short.
    FixtureFunction(
        name="partial_consumer",
        domain="fixture",
        stack="fixture",
        description="Fails the messages that ask for it.",
        trigger=Queue("fixture-partial", batch_size=10, max_receive_count=5),
        timeout_seconds=1,
        code="queue_consumer",
    ),
    FixtureFunction(
        name="redrive_consumer",
        domain="fixture",
        stack="fixture",
        description="Fails the messages that ask for it.",
        trigger=Queue("fixture-redrive", batch_size=10, max_receive_count=2),
        timeout_seconds=1,
        code="queue_consumer",
    ),
    FixtureFunction(
        name="stream_consumer",
        domain="fixture",
        stack="fixture",
        description="Journals every table change; fails the ones that ask for it.",
        trigger=TableStream(batch_size=10, retry_attempts=STREAM_RETRIES, max_batching_window_seconds=0),
        timeout_seconds=5,
    ),
)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(LocalConfig(port=0, aws_port=0), CATALOG, retry_delay_seconds=0.2, poll_idle_seconds=0.2)
    started.start()
    yield started
    started.stop()


def _url(stack: LocalStack, logical_name: str) -> str:
    return stack.queue_urls[logical_name]


def _message_counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    ).get("Messages", [])


def test_resources_follow_the_catalogue(stack: LocalStack) -> None:
    # Given the fixture catalogue with two queue consumers and a stream consumer
    sqs = client("sqs", stack.aws_endpoint)

    # When the queues' attributes are read
    partial = sqs.get_queue_attributes(QueueUrl=_url(stack, "fixture-redrive"), AttributeNames=["All"])["Attributes"]

    # Then each consumed queue has its dead-letter queue, the catalogue's maxReceiveCount and 6x the timeout
    assert partial["VisibilityTimeout"] == "6"
    redrive = json.loads(partial["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 2
    assert redrive["deadLetterTargetArn"].endswith(":firstmile-local-fixture-redrive-dlq")
    assert {"fixture-partial-dlq", "fixture-redrive-dlq", "scheduler-dlq"} <= set(stack.queue_urls)


def test_partial_batch_failure_leaves_only_the_failed_message(stack: LocalStack, tmp_path: Path) -> None:
    # Given a batch of three messages of which one fails
    journal = tmp_path / "journal.jsonl"
    sqs = client("sqs", stack.aws_endpoint)
    url = _url(stack, "fixture-partial")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": name, "MessageBody": json.dumps({"id": name, "fail": name == "bad", "journal": str(journal)})}
            for name in ("ok-1", "bad", "ok-2")
        ],
    )

    # When the poller has delivered them
    wait_for(lambda: len(read_journal(journal)) >= 3)

    # Then the two successes were deleted and only the failed message is left, waiting out its visibility timeout
    outcomes = {entry["id"]: entry["outcome"] for entry in read_journal(journal)}
    assert outcomes == {"ok-1": "done", "bad": "failed", "ok-2": "done"}
    assert wait_for(lambda: _message_counts(sqs, url) == (0, 1))


def test_a_message_failing_max_receive_count_times_is_redriven_to_the_dead_letter_queue(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a message that always fails, on a queue with maxReceiveCount 2
    journal = tmp_path / "journal.jsonl"
    sqs = client("sqs", stack.aws_endpoint)
    body = json.dumps({"id": f"poison-{uuid.uuid4().hex[:6]}", "fail": True, "journal": str(journal)})
    sqs.send_message(QueueUrl=_url(stack, "fixture-redrive"), MessageBody=body)

    # When it has been received twice (and its visibility timeout ran out each time)
    dead = wait_for(lambda: _drain(sqs, _url(stack, "fixture-redrive-dlq")), timeout=120)

    # Then it sits in the dead-letter queue, unchanged, after exactly two attempts
    assert [m["Body"] for m in dead] == [body]
    assert [int(e["receive_count"]) for e in read_journal(journal)] == [1, 2]
    assert _message_counts(sqs, _url(stack, "fixture-redrive")) == (0, 0)


def _put(table: Any, key: str, journal: Path, **extra: Any) -> None:
    item = {"pk": {"S": key}, "sk": {"S": "item"}, "journal": {"S": str(journal)}}
    table.put_item(TableName=_table_name(), Item=item | extra)


def _table_name() -> str:
    return "firstmile-local-table"


def test_stream_records_arrive_in_order_with_old_and_new_images(stack: LocalStack, tmp_path: Path) -> None:
    # Given an item inserted, modified and deleted
    journal = tmp_path / "journal.jsonl"
    dynamodb = client("dynamodb", stack.aws_endpoint)
    key = f"ORDER#{uuid.uuid4().hex[:8]}"
    _put(dynamodb, key, journal, version={"N": "1"})
    _put(dynamodb, key, journal, version={"N": "2"})
    dynamodb.delete_item(TableName=_table_name(), Key={"pk": {"S": key}, "sk": {"S": "item"}})

    # When the stream poller has delivered the changes
    def delivered() -> list[dict[str, Any]] | None:
        found = [e for e in read_journal(journal) if e["keys"]["pk"]["S"] == key]
        return found if len(found) >= 3 else None

    entries = wait_for(delivered)

    # Then they came in write order, each with the images DynamoDB keeps for NEW_AND_OLD_IMAGES
    assert [e["event"] for e in entries] == ["INSERT", "MODIFY", "REMOVE"]
    assert [int(e["sequence"]) for e in entries] == sorted(int(e["sequence"]) for e in entries)
    assert entries[0]["old"] is None and entries[0]["new"]["version"] == {"N": "1"}
    assert entries[1]["old"]["version"] == {"N": "1"} and entries[1]["new"]["version"] == {"N": "2"}
    assert entries[2]["old"]["version"] == {"N": "2"} and entries[2]["new"] is None
    assert all(e["source"].startswith("arn:aws:dynamodb:us-east-1:") and "/stream/" in e["source"] for e in entries)


def _failed_batches(s3: Any, bucket: str) -> list[dict[str, Any]]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="aws/lambda/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) | {"key": o["Key"]} for o in listed]


def test_a_stream_record_failing_every_retry_is_kept_whole_in_the_on_failure_bucket(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a change that always fails, followed by one that succeeds
    journal = tmp_path / "journal.jsonl"
    dynamodb = client("dynamodb", stack.aws_endpoint)
    failing_key = f"FAIL#{uuid.uuid4().hex[:8]}"
    _put(dynamodb, failing_key, journal, fail={"BOOL": True})
    _put(dynamodb, f"NEXT#{uuid.uuid4().hex[:8]}", journal)

    # When the poller has given up on the failing change
    s3 = client("s3", stack.aws_endpoint)
    bucket = stack.deployment.bucket(STREAM_FAILURES_BUCKET)
    failures = wait_for(lambda: _failed_batches(s3, bucket), timeout=60)

    # Then the failing change was tried once plus its retries, then written to the bucket with its description
    attempts = [e for e in read_journal(journal) if e["outcome"] == "failed"]
    assert len(attempts) == 1 + STREAM_RETRIES
    info = failures[0]
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["approximateInvokeCount"] == 1 + STREAM_RETRIES
    batch = info["DDBStreamBatchInfo"]
    assert batch["startSequenceNumber"] == attempts[0]["sequence"]
    # under the key Lambda's S3 destination uses: aws/lambda/<mapping>/<shard>/YYYY/MM/DD/<time>-<uuid>
    assert info["key"].startswith(f"aws/lambda/{_stream_poller(stack).mapping_id}/{batch['shardId']}/")
    # And the record itself is kept, not only a pointer to it: it can be read and replayed after the stream
    # has forgotten it
    kept = json.loads(info["payload"])["Records"]
    assert kept[0]["dynamodb"]["Keys"]["pk"] == {"S": failing_key}
    assert kept[0]["dynamodb"]["NewImage"]["fail"] == {"BOOL": True}
    # And the poller moved on: a change written afterwards is delivered
    later = f"LATER#{uuid.uuid4().hex[:8]}"
    _put(dynamodb, later, journal)
    assert wait_for(
        lambda: any(e["keys"]["pk"]["S"] == later and e["outcome"] == "done" for e in read_journal(journal))
    )


def _stream_poller(stack: LocalStack) -> StreamPoller:
    return next(p for p in stack.pollers if isinstance(p, StreamPoller))


def test_the_table_has_a_stream_only_when_a_function_consumes_it(emulator: str) -> None:
    # Given a catalogue with a stream consumer and one without (each its own stage on the shared emulator)
    stage = uuid.uuid4().hex[:8]
    queues_only = tuple(f for f in CATALOG if not isinstance(f.trigger, TableStream))
    with_consumer = deployment_for(CATALOG, f"with{stage}")
    without = deployment_for(queues_only, f"without{stage}")

    # When their resources are created
    create_resources(with_consumer, emulator)
    create_resources(without, emulator)

    # Then only the first table has a stream (the engine keeps every record of one in memory for a day)
    dynamodb = client("dynamodb", emulator)
    described = {
        d.table_name: dynamodb.describe_table(TableName=d.table_name)["Table"] for d in (with_consumer, without)
    }
    assert described[with_consumer.table_name]["StreamSpecification"]["StreamEnabled"] is True
    assert "LatestStreamArn" not in described[without.table_name]
    assert not described[without.table_name].get("StreamSpecification", {}).get("StreamEnabled", False)
    for name in described:
        dynamodb.delete_table(TableName=name)
