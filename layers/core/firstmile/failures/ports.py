"""What failed-work handling needs of storage: ``FailureStore`` implements it, and so does the unit tests' fake; both
pass the same contract suite (tests/contracts/failures.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime
    from typing import Any

    from firstmile.audit.models import AuditEvent
    from firstmile.failures.models import Failure, FailureRecord
    from firstmile.failures.tasks import TaskDraft, TaskFilter


class FailureStorePort(Protocol):
    def record(self, failure: Failure) -> None:
        """Add one failed attempt to its message's record (made on the first)."""
        ...

    def get(self, source: str, message_id: str) -> FailureRecord | None:
        """The record of one message."""
        ...


class TaskStorePort(Protocol):
    """The dead-letter tasks and their counters (decision 0091). ``scope``: a tenant, or ``None`` for every task.
    Tasks are plain dicts of their stored fields (``task_id``, ``task``, ``kind``, ``source``, ``state``, ...)."""

    def get(self, task_id: str) -> dict[str, Any] | None: ...

    def page(
        self, scope: str | None, criteria: TaskFilter, now: datetime, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the matching tasks, oldest first, and the next page's cursor."""
        ...

    def matching(self, scope: str | None, criteria: TaskFilter, now: datetime) -> Iterator[dict[str, Any]]: ...

    def count(self, scope: str | None, criteria: TaskFilter, now: datetime) -> int: ...

    def counters(self, scope: str | None) -> dict[str, int]:
        """``total``, ``t:<task>``, ``e:<exception>``, ``p:<task>|<exception>``, ``s:<state>``."""
        ...

    def oldest(self, scope: str | None) -> str | None: ...

    def admit(self, draft: TaskDraft) -> str:
        """``new``, ``returned`` (a retried task failed again) or ``known`` (this letter was collected before)."""
        ...

    def mark_queued(self, task: dict[str, Any], by: str, at: datetime, event: AuditEvent | None = None) -> bool: ...

    def remove(self, task: dict[str, Any], event: AuditEvent | None = None) -> bool: ...

    def resolve(self, task_id: str) -> bool: ...
