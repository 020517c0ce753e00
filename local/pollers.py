"""Lambda's event source mappings, locally: SQS queues and the table's stream feed their consumers in batches.

Queue poller: receives up to the catalogue's batch size, invokes the consumer with an SQS batch event, deletes
what succeeded and leaves what failed (every message when the function raised or timed out, otherwise those in
``batchItemFailures``) to reappear after the queue's visibility timeout. The queue's redrive policy, enforced by
the emulator, moves a message to the dead-letter queue once it was received ``maxReceiveCount`` times.

Stream poller: reads the table's stream in order, invokes the consumer with DynamoDB stream batches, and on a
failure retries from the first failed record (the whole batch when the function raised) up to the catalogue's
``retry_attempts``; then it writes the failed records, with their description, to the on-failure bucket (as
Lambda's S3 on-failure destination does) and moves on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.catalog import Function, Queue, TableStream
from local.emulator import ACCOUNT_ID, REGION
from local.environment import function_arn
from local.events import sqs_event, stream_event
from local.runtime import Invocation, Runtime, RuntimeStoppedError

log = logging.getLogger(__name__)

# ReceiveMessage returns at most ten messages per call.
_SQS_MAX_PER_RECEIVE = 10
# How often an idle stream poller asks for shards it does not read yet.
_SHARD_DISCOVERY_SECONDS = 5.0


@dataclass(frozen=True)
class BatchOutcome:
    """One delivered batch: how many records it had and the ids of those that failed."""

    size: int
    failed: tuple[str, ...]


def failed_items(invocation: Invocation, identifiers: list[str]) -> list[str]:
    """The identifiers of the records a batch invocation failed, as Lambda reads a partial batch response.

    All of them when the function raised or timed out, or when ``batchItemFailures`` names an identifier that is
    empty or not in the batch; otherwise the ones it names.
    """
    if not invocation.ok:
        return list(identifiers)
    payload = invocation.payload
    if not isinstance(payload, dict) or not payload.get("batchItemFailures"):
        return []
    named = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in payload["batchItemFailures"]]
    if any(not name or name not in identifiers for name in named):
        return list(identifiers)
    return [i for i in identifiers if i in named]


class _Poller:
    """A background loop calling ``poll_once`` until stopped, resting when there was nothing to deliver."""

    def __init__(self, function: Function, runtime: Runtime, idle_wait_seconds: float) -> None:
        self.function = function
        self._runtime = runtime
        self._idle_wait = idle_wait_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> BatchOutcome | None:
        raise NotImplementedError

    def start(self) -> _Poller:
        self._thread = threading.Thread(target=self._loop, name=f"poller-{self.function.name}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self.poll_once()
            except RuntimeStoppedError:
                return
            except Exception:  # the emulator may be stopping, or briefly unreachable: retry, never die
                log.exception("the %s poller failed; retrying", self.function.name)
                delivered = None
            if delivered is None:
                self._stop.wait(self._idle_wait)

    def signal_stop(self) -> None:
        """Deliver nothing more; returns at once."""
        self._stop.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Deliver nothing more and wait, at most ``timeout``, for the batch in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)


class QueuePoller(_Poller):
    """Feeds one queue's messages to its consumer in batches."""

    def __init__(
        self,
        function: Function,
        runtime: Runtime,
        sqs: Any,
        queue_url: str,
        *,
        idle_wait_seconds: float = 0.5,
    ) -> None:
        if not isinstance(function.trigger, Queue):
            raise TypeError(f"{function.name} does not consume a queue")
        super().__init__(function, runtime, idle_wait_seconds)
        self.trigger: Queue = function.trigger
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def poll_once(self) -> BatchOutcome | None:
        """Deliver one batch; ``None`` when the queue had nothing visible."""
        messages = self._receive_batch()
        if not messages:
            return None
        invocation = self._runtime.invoke(self.function.name, sqs_event(messages, self._queue_arn))
        ids = [m["MessageId"] for m in messages]
        failed = failed_items(invocation, ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), _SQS_MAX_PER_RECEIVE):
            chunk = done[start : start + _SQS_MAX_PER_RECEIVE]
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        if failed:
            # The queue's redrive policy moves a message to its DLQ when it is received once more than allowed.
            last_tries = [
                m for m in messages if m["MessageId"] in failed and _receives(m) >= self.trigger.max_receive_count
            ]
            log.warning(
                "%s failed %d of %d messages; %s",
                self.function.name,
                len(failed),
                len(messages),
                f"{len(last_tries)} of them had their last try and go to the DLQ"
                if last_tries
                else "they return after the visibility timeout",
            )
        return BatchOutcome(len(messages), tuple(failed))

    def _receive_batch(self) -> list[dict[str, Any]]:
        # Up to the batch size, waiting at most the batching window for a batch to fill.
        messages: list[dict[str, Any]] = []
        window_ends = time.monotonic() + self.trigger.max_batching_window_seconds
        while len(messages) < self.trigger.batch_size:
            received = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(_SQS_MAX_PER_RECEIVE, self.trigger.batch_size - len(messages)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            messages += received
            if not received and (not messages or time.monotonic() >= window_ends or self._stop.wait(0.2)):
                break
        return messages


class StreamPoller(_Poller):
    """Feeds the table's stream to its consumer in order, with retries and an on-failure queue."""

    def __init__(
        self,
        function: Function,
        runtime: Runtime,
        *,
        dynamodb: Any,
        streams: Any,
        table_name: str,
        s3: Any,
        failures_bucket: str,
        idle_wait_seconds: float = 0.5,
        retry_delay_seconds: float = 0.5,
    ) -> None:
        if not isinstance(function.trigger, TableStream):
            raise TypeError(f"{function.name} does not consume the table stream")
        super().__init__(function, runtime, idle_wait_seconds)
        self.trigger: TableStream = function.trigger
        self._streams = streams
        self._s3 = s3
        self._failures_bucket = failures_bucket
        # The event source mapping's id, which names the folder of its failed batches; stable per function.
        self.mapping_id = str(uuid.uuid5(uuid.NAMESPACE_URL, function_arn(function)))
        self._retry_delay = retry_delay_seconds
        self.stream_arn: str = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        # The table engine names its own region and account in the ARN; events carry the emulated account's.
        self.event_source_arn = emulated_stream_arn(table_name, self.stream_arn)
        # Open iterators by shard; shards whose every record was delivered are remembered as finished, so a
        # closed shard's children are read once their parent is done, as Lambda reads a stream's lineage.
        self._iterators: dict[str, str] = {}
        self._finished: set[str] = set()
        self._discovered_at = 0.0
        self._discover()

    def _discover(self) -> None:
        """Start reading every shard not yet read whose parent (if the stream still lists it) is finished.

        From each shard's oldest record on: the stack's table starts empty, so nothing written is missed.
        """
        self._discovered_at = time.monotonic()
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        listed = {shard["ShardId"] for shard in shards}
        for shard in shards:
            shard_id, parent = shard["ShardId"], shard.get("ParentShardId")
            if shard_id in self._iterators or shard_id in self._finished:
                continue
            if parent and parent in listed and parent not in self._finished:
                continue
            self._iterators[shard_id] = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]

    def poll_once(self) -> BatchOutcome | None:
        """Deliver the next batch of one shard; ``None`` when no shard had new records."""
        for shard_id in list(self._iterators):
            records = self._read(shard_id, self.trigger.batch_size)
            if records and len(records) < self.trigger.batch_size and self.trigger.max_batching_window_seconds:
                # Lambda waits up to the batching window for a batch to fill.
                self._stop.wait(self.trigger.max_batching_window_seconds)
                if shard_id in self._iterators:
                    records += self._read(shard_id, self.trigger.batch_size - len(records))
            if records:
                return self._deliver(shard_id, records)
        if time.monotonic() - self._discovered_at > _SHARD_DISCOVERY_SECONDS:
            self._discover()  # a stream with no open shard, or one the engine opened beside the others
        return None

    def _read(self, shard_id: str, limit: int) -> list[dict[str, Any]]:
        answer = self._streams.get_records(ShardIterator=self._iterators[shard_id], Limit=limit)
        following = answer.get("NextShardIterator")
        if following:
            self._iterators[shard_id] = following
        else:
            # The shard is closed and read to its end: its children take over.
            del self._iterators[shard_id]
            self._finished.add(shard_id)
            self._discover()
        # The mapping's filter: what it does not admit never reaches the function (and is not retried).
        return [record for record in answer.get("Records", []) if self.trigger.admits(record)]

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> BatchOutcome:
        pending = records
        retries = 0
        while True:
            invocation = self._runtime.invoke(self.function.name, stream_event(pending, self.event_source_arn))
            sequence = [r["dynamodb"]["SequenceNumber"] for r in pending]
            failed = failed_items(invocation, sequence)
            if not failed:
                return BatchOutcome(len(records), ())
            # Everything before the first failure is done (checkpointed); retry from there.
            pending = pending[sequence.index(failed[0]) :]
            retries += 1
            if retries > self.trigger.retry_attempts:
                self._keep_failed_batch(shard_id, pending, invocation, retries)
                return BatchOutcome(len(records), tuple(r["dynamodb"]["SequenceNumber"] for r in pending))
            log.warning("%s failed at sequence %s; retry %d", self.function.name, failed[0], retries)
            if self._stop.wait(self._retry_delay * retries):
                raise RuntimeStoppedError("the stream poller is stopping")

    def _keep_failed_batch(
        self, shard_id: str, records: list[dict[str, Any]], invocation: Invocation, invocations: int
    ) -> None:
        """Write the records given up on, with their description, as Lambda's S3 on-failure destination does."""
        arrivals = [r["dynamodb"].get("ApproximateCreationDateTime") for r in records]
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if invocation.error is not None:
            response["functionError"] = "Unhandled"
        now = datetime.now(UTC)
        record = {
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": function_arn(self.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": now.isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(arrivals[0]),
                "approximateArrivalOfLastRecord": _iso(arrivals[-1]),
                "batchSize": len(records),
                "streamArn": self.event_source_arn,
            },
            # Only an S3 destination receives the batch itself: the invocation's event, as a JSON string.
            "payload": json.dumps(stream_event(records, self.event_source_arn)),
        }
        key = failed_batch_key(self.mapping_id, shard_id, now)
        log.error(
            "%s gave up on %d stream records; kept in s3://%s/%s",
            self.function.name,
            len(records),
            self._failures_bucket,
            key,
        )
        self._s3.put_object(Bucket=self._failures_bucket, Key=key, Body=json.dumps(record).encode())


def failed_batch_key(mapping_id: str, shard_id: str, at: datetime) -> str:
    """Where Lambda's S3 on-failure destination writes a failed batch:
    ``aws/lambda/<mapping id>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>``."""
    return f"aws/lambda/{mapping_id}/{shard_id}/{at:%Y/%m/%d}/{at:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"


def emulated_stream_arn(table_name: str, engine_arn: str) -> str:
    """The stream's ARN in the emulated account and region, with the engine's stream label."""
    label = engine_arn.rsplit("/stream/", 1)[-1]
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table_name}/stream/{label}"


def _receives(message: dict[str, Any]) -> int:
    raw = str(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    return int(raw) if raw.isdigit() else 1


def _iso(moment: Any) -> str | None:
    return moment.astimezone(UTC).isoformat() if isinstance(moment, datetime) else None
