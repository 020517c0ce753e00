"""Dead-letter tasks (decision 0091): every message a dead-letter queue received, and every table-stream batch its
consumer gave up on, kept as one task an operator (or the tenant's admin) can read, retry or delete.

A task's id is stable: it begins with the moment its work was first sent (so ids sort by age) and ends with a digest
of where the work came from and its first message id, so collecting the same letter twice finds the same task,
and a retried task that fails again comes back as itself, with its history.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from firstmile.failures.marks import ORIGIN_MESSAGE_ATTRIBUTE as ORIGIN_MESSAGE_ATTRIBUTE
from firstmile.failures.marks import TASK_ID_ATTRIBUTE as TASK_ID_ATTRIBUTE
from firstmile.model import Model

TaskKind = Literal["queue", "schedule", "stream"]
"""Where the work came from: a work queue's message, a scheduled run, or a table-stream batch."""

TaskState = Literal["dead", "queued"]
"""``dead``: waiting in the dead-letter list; ``queued``: sent back to its source, its outcome not known yet (a
success removes the task, a failure brings it back ``dead``)."""

TaskEvent = Literal["dead_lettered", "retried", "failed_again"]

TASK_ID_PATTERN = r"^[0-9]{8}T[0-9]{9}-[0-9a-f]{16}$"
"""``<yyyymmddThhmmssfff of the first send>-<16 hex digits>``."""

MAX_PAYLOAD_TEXT = 32_000
"""The redacted payload a task shows is cut to this many characters of JSON."""


def task_id(first_sent_at: datetime, source: str, message_id: str) -> str:
    """The id of the task holding the work first sent at ``first_sent_at`` from ``source`` as ``message_id``."""
    digest = hashlib.sha256(f"{source}\n{message_id}".encode()).hexdigest()[:16]
    return f"{id_time(first_sent_at)}-{digest}"


def id_time(moment: datetime) -> str:
    """The time part of a task id (UTC, millisecond): ids of tasks first sent before ``moment`` sort below it."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]


def first_sent_of(task: str) -> datetime:
    """When the work of the task ``task`` (an id) was first sent."""
    return datetime.strptime(task.split("-", 1)[0] + "000", "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


class TaskHistoryEvent(Model):
    """One thing that happened to a task."""

    model_config = ConfigDict(frozen=True)

    event: TaskEvent
    at: datetime
    by: str | None = Field(default=None, description="Who retried it (operator:..., admin:...)")
    exception_type: str | None = Field(default=None, description="What it failed with that time")


class TaskDraft(Model):
    """A task as the collector reads it from a dead letter, before it is stored."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    task: str = Field(description="The function whose work failed")
    kind: TaskKind
    source: str = Field(description="queue:<name>, schedule:<function> or stream:<function>")
    message_id: str = Field(description="The work's first message id (its failure record's key)")
    letter_id: str = Field(description="The dead letter this draft was read from (a DLQ message id, an object key)")
    location: str = Field(description="Where the letter was: the dead-letter queue, or the failed-batch object")
    exception_type: str
    message: str
    traceback: str = ""
    attempts: int = Field(ge=1)
    first_failed_at: datetime
    last_failed_at: datetime
    dead_lettered_at: datetime
    tenant: str | None = None
    payload: Any = None
    body: str = Field(description="What a retry sends back: the message body, the scheduled event, the batch's key")
    attributes: dict[str, str] = Field(default_factory=dict, description="The message's own attributes")
    failure_recorded: bool = Field(description="Whether the consumer recorded the failure itself")


class DeadLetterTask(Model):
    """A dead-letter task as listed."""

    task_id: str
    task: str = Field(description="The function whose work failed")
    kind: TaskKind
    source: str
    state: TaskState
    exception_type: str
    message: str = Field(description="The last exception's text, secrets redacted")
    tenant: str | None = Field(default=None, description="The tenant the work belongs to, when it names one")
    attempts: int = Field(description="Deliveries that failed, across every retry")
    retries: int = Field(description="Times it was sent back to its source")
    first_failed_at: datetime
    last_failed_at: datetime
    dead_lettered_at: datetime = Field(description="When it last reached a dead-letter queue")
    age_hours: float = Field(description="Hours since its work was first sent")


class DeadLetterTaskDetail(DeadLetterTask):
    """A dead-letter task with everything known of it."""

    message_id: str
    location: str
    traceback: str = Field(description="The last traceback, secrets redacted, its innermost frames kept")
    payload: Any = Field(default=None, description="The work's payload, secrets redacted")
    failure_recorded: bool
    history: list[TaskHistoryEvent]


class TaskFilter(Model):
    """Which tasks a list, a clear or a redrive is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_name: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_:.-]+$")
    exception_type: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.]+$")
    older_than_hours: float | None = Field(default=None, ge=0, le=24 * 365)
    newer_than_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    state: TaskState | None = None

    def first_sent_range(self, now: datetime) -> tuple[str | None, str | None]:
        """The id-time bounds of the tasks this filter's ages admit: (lowest, highest), either open."""
        low = id_time(now - timedelta(hours=self.newer_than_hours)) if self.newer_than_hours is not None else None
        high = id_time(now - timedelta(hours=self.older_than_hours)) if self.older_than_hours is not None else None
        return low, high


class TaskPage(Model):
    """One page of dead-letter tasks, oldest first."""

    items: list[DeadLetterTask]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; absent at the end")
    total: int = Field(description="Tasks matching the filters, over every page")
    filters: TaskFilter


class TaskStats(Model):
    """The dead-letter tasks in numbers."""

    total_tasks: int
    tasks_by_type: dict[str, int] = Field(description="Tasks per function")
    tasks_by_exception: dict[str, int] = Field(description="Tasks per exception type")
    tasks_by_state: dict[str, int]
    oldest_task_age_hours: float | None = Field(description="Null when there is no task")


class TaskActionAnswer(Model):
    """What a retry or a delete did."""

    status: Literal["queued", "deleted"]
    task_id: str


class BulkRequest(TaskFilter):
    """A clear or a redrive: the tasks matching the filter, at most ``limit`` of them per call."""

    dry_run: bool = Field(default=True, description="Only count and name what would be done")
    limit: int = Field(default=100, ge=1, le=100)


class BulkAnswer(Model):
    """What a clear or a redrive did, or (dry run) would do."""

    dry_run: bool
    matched: int = Field(description="Tasks matching the filter")
    done: int = Field(description="Tasks deleted or queued by this call (0 in a dry run)")
    task_ids: list[str] = Field(description="The tasks this call acted on, or would act on")
    remaining: int = Field(description="Matching tasks left after this call: call again to go on")
    filters: TaskFilter
