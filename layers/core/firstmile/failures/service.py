"""The dead-letter tasks as operators and admins see them (decision 0091).

``scope`` is ``None`` for an operator (every task) and the tenant for an admin, who sees only the tasks whose work
names their tenant; a task outside the caller's scope is not found. Every retry, delete, clear and redrive is
audited in the caller's chain (an operator's is the platform's), in the same transaction as the change it records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from firstmile import errors as e
from firstmile.audit.models import AuditEvent
from firstmile.errors import DomainError
from firstmile.failures.tasks import (
    BulkAnswer,
    BulkRequest,
    DeadLetterTask,
    DeadLetterTaskDetail,
    TaskActionAnswer,
    TaskFilter,
    TaskHistoryEvent,
    TaskPage,
    TaskStats,
    first_sent_of,
)

if TYPE_CHECKING:
    from firstmile.audit.ports import AuditLog
    from firstmile.failures.ports import TaskStorePort


class Redeliver(Protocol):
    def __call__(self, task: dict[str, Any]) -> None:
        """Send the task's work back to its source, marked with the task's id."""
        ...


class DeadLetters:
    def __init__(
        self,
        tasks: TaskStorePort,
        *,
        audit: AuditLog,
        redeliver: Redeliver,
        clock: Callable[[], datetime],
    ) -> None:
        self._tasks = tasks
        self._audit = audit
        self._redeliver = redeliver
        self._clock = clock

    # --- reads ---------------------------------------------------------------------------------------------

    def list(self, scope: str | None, criteria: TaskFilter, *, limit: int, cursor: str | None) -> TaskPage:
        now = self._clock()
        items, next_cursor = self._tasks.page(scope, criteria, now, limit=limit, cursor=cursor)
        return TaskPage(
            items=[_listed(item, now) for item in items],
            next_cursor=next_cursor,
            total=self._tasks.count(scope, criteria, now),
            filters=criteria,
        )

    def get(self, scope: str | None, task_id: str) -> DeadLetterTaskDetail:
        task = self._visible(scope, task_id)
        now = self._clock()
        return DeadLetterTaskDetail(
            **_listed(task, now).model_dump(),
            message_id=task["message_id"],
            location=task["location"],
            traceback=task.get("traceback", ""),
            payload=task.get("payload"),
            failure_recorded=bool(task.get("failure_recorded")),
            history=[TaskHistoryEvent.model_validate(event) for event in task.get("history", [])],
        )

    def stats(self, scope: str | None) -> TaskStats:
        counters = self._tasks.counters(scope)
        oldest = self._tasks.oldest(scope)

        def group(prefix: str) -> dict[str, int]:
            return {k[len(prefix) :]: v for k, v in sorted(counters.items()) if k.startswith(prefix) and v > 0}

        return TaskStats(
            total_tasks=max(0, counters.get("total", 0)),
            tasks_by_type=group("t:"),
            tasks_by_exception=group("e:"),
            tasks_by_state=group("s:"),
            oldest_task_age_hours=_age_hours(oldest, self._clock()) if oldest else None,
        )

    # --- actions -------------------------------------------------------------------------------------------

    def retry(self, caller: TaskCaller, task_id: str) -> TaskActionAnswer:
        """Send the task's work back to its source; answers ``queued``. Only a ``dead`` task is sent (a ``queued``
        one is on its way already)."""
        task = self._visible(caller.scope, task_id)
        if task["state"] != "dead":
            raise DomainError(e.BIZ_TASK_STATE, f"Task {task_id} was sent back already; wait for its outcome.")
        self._redeliver(task)
        event = self._event(caller, "dlq.task_retried", task_id, {"task": task["task"], "source": task["source"]})
        if not self._tasks.mark_queued(task, caller.actor, self._clock(), event):
            # Its work finished (or failed again) before it was marked queued: the retry happened all the same.
            self._audit.record(event)
        return TaskActionAnswer(status="queued", task_id=task_id)

    def delete(self, caller: TaskCaller, task_id: str) -> TaskActionAnswer:
        task = self._visible(caller.scope, task_id)
        event = self._event(caller, "dlq.task_deleted", task_id, {"task": task["task"], "source": task["source"]})
        if not self._tasks.remove(task, event):
            raise DomainError(e.BIZ_TASK_STATE, f"Task {task_id} changed meanwhile; read it again.")
        return TaskActionAnswer(status="deleted", task_id=task_id)

    def clear(self, caller: TaskCaller, request: BulkRequest) -> BulkAnswer:
        """Delete the tasks matching the filter, ``limit`` per call (a dry run deletes nothing)."""
        return self._bulk(caller, request, "dlq.cleared", self._remove_quietly)

    def redrive(self, caller: TaskCaller, request: BulkRequest) -> BulkAnswer:
        """Send back the ``dead`` tasks matching the filter, ``limit`` per call (a dry run sends nothing)."""
        request = request.model_copy(update={"state": "dead"})
        return self._bulk(caller, request, "dlq.redriven", lambda task, by: self._send_back(task, by))

    # --- plumbing ------------------------------------------------------------------------------------------

    def _bulk(
        self, caller: TaskCaller, request: BulkRequest, action: str, act: Callable[[dict[str, Any], str], bool]
    ) -> BulkAnswer:
        criteria = TaskFilter.model_validate(request.model_dump(exclude={"dry_run", "limit"}))
        now = self._clock()
        matched = self._tasks.count(caller.scope, criteria, now)
        chosen = list(islice(self._tasks.matching(caller.scope, criteria, now), request.limit))
        if request.dry_run:
            done_ids = [task["task_id"] for task in chosen]
            return BulkAnswer(
                dry_run=True, matched=matched, done=0, task_ids=done_ids, remaining=matched, filters=criteria
            )
        done_ids = [task["task_id"] for task in chosen if act(task, caller.actor)]
        details = {k: str(v) for k, v in criteria.model_dump(exclude_none=True).items()}
        self._audit.record(
            self._event(caller, action, f"dlq:{caller.scope or '*'}", {**details, "tasks": str(len(done_ids))})
        )
        left = self._tasks.count(caller.scope, criteria, self._clock())
        return BulkAnswer(
            dry_run=False, matched=matched, done=len(done_ids), task_ids=done_ids, remaining=left, filters=criteria
        )

    def _remove_quietly(self, task: dict[str, Any], _by: str) -> bool:
        return self._tasks.remove(task)

    def _send_back(self, task: dict[str, Any], by: str) -> bool:
        self._redeliver(task)
        self._tasks.mark_queued(task, by, self._clock())
        return True

    def _visible(self, scope: str | None, task_id: str) -> dict[str, Any]:
        task = self._tasks.get(task_id)
        if task is None or (scope is not None and task.get("tenant") != scope):
            raise DomainError(e.RES_TASK_NOT_FOUND, f"No dead-letter task {task_id} here.")
        return task

    def _event(self, caller: TaskCaller, action: str, target: str, details: dict[str, str]) -> AuditEvent:
        return AuditEvent(
            tenant=caller.tenant,
            actor=caller.actor,
            action=action,
            target=target if target.startswith("dlq:") else f"task:{target}",
            correlation_id=caller.correlation_id,
            details=details,
        )


def _listed(task: dict[str, Any], now: datetime) -> DeadLetterTask:
    return DeadLetterTask(
        task_id=task["task_id"],
        task=task["task"],
        kind=task["kind"],
        source=task["source"],
        state=task["state"],
        exception_type=task["exception_type"],
        message=task.get("message", ""),
        tenant=task.get("tenant"),
        attempts=int(task.get("attempts", 1)),
        retries=int(task.get("retries", 0)),
        first_failed_at=task["first_failed_at"],
        last_failed_at=task["last_failed_at"],
        dead_lettered_at=task["dead_lettered_at"],
        age_hours=_age_hours(task["task_id"], now),
    )


def _age_hours(task_id: str, now: datetime) -> float:
    return round(max(0.0, (now - first_sent_of(task_id)).total_seconds() / 3600), 2)


@dataclass(frozen=True)
class TaskCaller:
    """Who acts on dead-letter tasks: an operator (every task, audited in the platform's chain) or an admin (their
    tenant's tasks, audited in their tenant's chain)."""

    tenant: str
    actor: str
    scope: str | None
    correlation_id: str = ""

    @classmethod
    def of(cls, tenant: str, subject: str, roles: frozenset[str], correlation_id: str = "") -> TaskCaller:
        if "operator" in roles:
            return cls(tenant, f"operator:{subject}", None, correlation_id)
        return cls(tenant, f"admin:{subject}", tenant, correlation_id)
