"""The dead-letter collector (decision 0091): every minute, each dead letter becomes a task.

It drains every work queue's dead-letter queue and the invocation dead-letter queue, and takes the stream
consumers' failed batches from the stream-failures bucket (moving each under ``collected/``, where a retry reads
it). A letter is deleted (or moved) only after its task is stored, so a crash between the two collects it again,
which finds the task it already made. The run stops taking letters after ``budget_seconds``; what is left waits
in its queue for the next run. Last, tasks whose work was first sent over 30 days ago are removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from firstmile.failures.letters import FindRecord, from_invocation_letter, from_queue_message, from_stream_failure
from firstmile.failures.ports import TaskStorePort
from firstmile.failures.tasks import TaskDraft, TaskFilter
from firstmile.observability import logger
from firstmile.sla.requests import emit, queue_sample

FAILED_BATCHES_PREFIX = "aws/lambda/"
"""Where Lambda's S3 on-failure destination writes a stream consumer's failed batch."""

COLLECTED_PREFIX = "collected/"
DEAD_LETTER_TASKS_METRIC = "DeadLetterTasks"
"""The tasks waiting (state ``dead``), as the collector counts them every minute; alarmed from 1."""

RETENTION = timedelta(days=30)
"""A task is removed this long after its work was first sent, unless retried or deleted sooner."""
"""Where a collected batch is kept for its task (``collected/<original key>``)."""


class Letters(Protocol):
    def receive(self, name: str, *, at_most: int = 10, hide_seconds: int = 60) -> list[dict[str, Any]]: ...

    def delete(self, name: str, receipt_handle: str) -> None: ...


class Batches(Protocol):
    def keys(self, prefix: str) -> Iterator[str]: ...

    def get(self, key: str) -> bytes | None: ...

    def move(self, key: str, to: str) -> None: ...


@dataclass
class CollectionSummary:
    """What one run collected."""

    new: int = 0
    returned: int = 0
    known: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    expired: int = 0
    stopped_early: bool = False

    def count(self, draft: TaskDraft, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.by_source[draft.source] = self.by_source.get(draft.source, 0) + 1


class Collector:
    """Turns dead letters into tasks. ``consumers`` maps each work queue's dead-letter queue to (its queue, the
    function consuming it); ``invocations`` names the invocation dead-letter queue."""

    def __init__(
        self,
        tasks: TaskStorePort,
        *,
        letters: Letters,
        batches: Batches,
        find: FindRecord,
        consumers: Mapping[str, tuple[str, str]],
        invocations: str,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tasks = tasks
        self._letters = letters
        self._batches = batches
        self._find = find
        self._consumers = dict(consumers)
        self._invocations = invocations
        self._clock = clock
        self._monotonic = monotonic

    def run(self, budget_seconds: float) -> CollectionSummary:
        summary = CollectionSummary()
        ends = self._monotonic() + budget_seconds
        for dead_letter_queue, (queue, consumer) in sorted(self._consumers.items()):
            self._drain(dead_letter_queue, self._queue_reader(dead_letter_queue, queue, consumer), summary, ends)
        self._drain(self._invocations, self._invocation_reader, summary, ends)
        for key in self._batches.keys(FAILED_BATCHES_PREFIX):
            if self._monotonic() >= ends:
                summary.stopped_early = True
                break
            self._take_batch(key, summary)
        summary.expired = self._expire(ends)
        return summary

    def _expire(self, ends: float) -> int:
        """Remove the tasks whose work was first sent more than ``RETENTION`` ago, oldest first, with their counts."""
        expired = 0
        criteria = TaskFilter(older_than_hours=RETENTION.total_seconds() / 3600)
        for task in self._tasks.matching(None, criteria, self._clock()):
            if self._monotonic() >= ends:
                break
            expired += self._tasks.remove(task)
        return expired

    def _queue_reader(self, dead_letter_queue: str, queue: str, consumer: str) -> Callable[[dict[str, Any]], TaskDraft]:
        def read(message: dict[str, Any]) -> TaskDraft:
            return from_queue_message(
                message,
                queue=queue,
                consumer=consumer,
                dead_letter_queue=dead_letter_queue,
                find=self._find,
                now=self._clock(),
            )

        return read

    def _invocation_reader(self, message: dict[str, Any]) -> TaskDraft:
        return from_invocation_letter(message, dead_letter_queue=self._invocations, find=self._find, now=self._clock())

    def _drain(
        self, name: str, read: Callable[[dict[str, Any]], TaskDraft], summary: CollectionSummary, ends: float
    ) -> None:
        while True:
            if self._monotonic() >= ends:
                summary.stopped_early = True
                return
            messages = self._letters.receive(name)
            if not messages:
                return
            for message in messages:
                try:
                    draft = read(message)
                except (ValueError, KeyError, TypeError) as exc:
                    # A letter no reader understands stays where it is (hidden a minute), so it is never lost;
                    # the dead-letter queue's age alarm shows it is stuck.
                    summary.unreadable += 1
                    logger.error("dead letter unreadable", extra={"queue": name, "error": type(exc).__name__})
                    continue
                summary.count(draft, self._tasks.admit(draft))
                self._letters.delete(name, str(message["ReceiptHandle"]))
                _record_taken(name, message)

    def _take_batch(self, key: str, summary: CollectionSummary) -> None:
        raw = self._batches.get(key)
        if raw is None:  # taken by a concurrent run
            return
        kept_at = COLLECTED_PREFIX + key
        try:
            draft = from_stream_failure(json.loads(raw), key=key, kept_at=kept_at, find=self._find, now=self._clock())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            summary.unreadable += 1
            logger.error("failed batch unreadable", extra={"key": key, "error": type(exc).__name__})
            return
        summary.count(draft, self._tasks.admit(draft))
        self._batches.move(key, kept_at)


def _record_taken(dead_letter_queue: str, message: dict[str, Any]) -> None:
    """The letter's record for the failed-work objective (``firstmile.sla.objectives``): how long it waited in its
    dead-letter queue since it was sent there (the invocation dead-letter queue's letters are sent there when the run
    failed for good; a work queue's dead letter keeps its first send time, so its wait includes its failed tries)."""
    now_ms = int(time.time() * 1000)
    sent = (message.get("Attributes") or {}).get("SentTimestamp")
    try:
        emit(queue_sample(dead_letter_queue, True, max(0, now_ms - int(sent or now_ms)), now_ms), "dlq_collector")
    except Exception:  # a record lost is a letter not counted; the task is kept either way
        logger.warning("the letter's record could not be written", exc_info=True)
