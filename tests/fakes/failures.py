"""In-memory failure records and dead-letter tasks."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from firstmile.audit.models import AuditEvent
from firstmile.failures.models import Failure, FailureRecord
from firstmile.failures.task_store import counters_of
from firstmile.failures.tasks import TaskDraft, TaskFilter, TaskHistoryEvent
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.faults import Faults
from tests.fakes.paging import page_of


class FakeFailureStore:
    """``FailureStorePort`` in memory."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._records: dict[tuple[str, str], FailureRecord] = {}
        self._lock = threading.Lock()

    def record(self, failure: Failure) -> None:
        self.faults.enter("record")
        with self._lock:
            key = (failure.source, failure.message_id)
            before = self._records.get(key)
            self._records[key] = FailureRecord(
                task=failure.task,
                source=failure.source,
                message_id=failure.message_id,
                exception_type=failure.exception_type,
                message=failure.message,
                traceback=failure.traceback,
                attempts=max(failure.attempt, before.attempts if before else 0),
                first_failed_at=before.first_failed_at if before else failure.at,
                last_failed_at=failure.at,
                payload=failure.payload,
                tenant=failure.tenant or (before.tenant if before else None),
            )

    def get(self, source: str, message_id: str) -> FailureRecord | None:
        self.faults.enter("get")
        with self._lock:
            return self._records.get((source, message_id))


class FakeTaskStore(AuditedFake):
    """``TaskStorePort`` in memory: tasks by id, their counters counted from them; a change appends its audit
    entry under the audit log's lock, as the store's transaction does."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self.tasks: dict[str, dict[str, Any]] = {}

    def get(self, task_id: str) -> dict[str, Any] | None:
        self.faults.enter("get")
        with self._lock:
            task = self.tasks.get(task_id)
            return copy.deepcopy(task) if task else None

    def _selected(self, scope: str | None, criteria: TaskFilter, now: datetime) -> list[dict[str, Any]]:
        low, high = criteria.first_sent_range(now)
        with self._lock:
            chosen = [
                copy.deepcopy(task)
                for task_id, task in sorted(self.tasks.items())
                if (scope is None or task.get("tenant") == scope)
                and (low is None or task_id >= low)
                and (high is None or task_id <= high)
                and criteria.task_name in (None, task["task"])
                and criteria.exception_type in (None, task["exception_type"])
                and criteria.state in (None, task["state"])
            ]
        return chosen

    def page(
        self, scope: str | None, criteria: TaskFilter, now: datetime, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        self.faults.enter("page")
        items = self._selected(scope, criteria, now)
        return page_of(items, lambda t: str(t["task_id"]), scope=f"dlq:{scope or '*'}", limit=limit, cursor=cursor)

    def matching(self, scope: str | None, criteria: TaskFilter, now: datetime) -> Iterator[dict[str, Any]]:
        self.faults.enter("matching")
        yield from self._selected(scope, criteria, now)

    def count(self, scope: str | None, criteria: TaskFilter, now: datetime) -> int:
        self.faults.enter("count")
        return len(self._selected(scope, criteria, now))

    def counters(self, scope: str | None) -> dict[str, int]:
        self.faults.enter("counters")
        counts: dict[str, int] = {}
        with self._lock:
            for task in self.tasks.values():
                if scope is not None and task.get("tenant") != scope:
                    continue
                for counter in counters_of(task["task"], task["exception_type"], task["state"]):
                    counts[counter] = counts.get(counter, 0) + 1
        return counts

    def oldest(self, scope: str | None) -> str | None:
        self.faults.enter("oldest")
        with self._lock:
            ids = sorted(i for i, t in self.tasks.items() if scope is None or t.get("tenant") == scope)
        return ids[0] if ids else None

    def admit(self, draft: TaskDraft) -> str:
        self.faults.enter("admit")
        with self._lock:
            stored = self.tasks.get(draft.task_id)
            if stored is None:
                fields = draft.model_dump(mode="json", exclude={"letter_id"})
                self.tasks[draft.task_id] = {
                    **fields,
                    "state": "dead",
                    "retries": 0,
                    "last_letter": draft.letter_id,
                    "history": [_history("dead_lettered", draft.dead_lettered_at, exception_type=draft.exception_type)],
                }
                return "new"
            if stored["last_letter"] == draft.letter_id:
                return "known"
            stored |= {
                "state": "dead",
                "exception_type": draft.exception_type,
                "message": draft.message,
                "traceback": draft.traceback,
                "last_failed_at": draft.last_failed_at.isoformat(),
                "dead_lettered_at": draft.dead_lettered_at.isoformat(),
                "last_letter": draft.letter_id,
                "attempts": max(draft.attempts, stored["attempts"]),
                "location": draft.location,
                "failure_recorded": draft.failure_recorded,
            }
            stored["history"].append(
                _history("failed_again", draft.dead_lettered_at, exception_type=draft.exception_type)
            )
            return "returned"

    def mark_queued(self, task: dict[str, Any], by: str, at: datetime, event: AuditEvent | None = None) -> bool:
        self.faults.enter("mark_queued")
        with self._lock:
            stored = self.tasks.get(task["task_id"])
            if not _unchanged(stored, task):
                return False
            assert stored is not None  # noqa: S101 - _unchanged said so
            stored["state"] = "queued"
            stored["retries"] += 1
            stored["history"].append(_history("retried", at, by=by))
            if event is not None:
                self.audit.record(event)
            return True

    def remove(self, task: dict[str, Any], event: AuditEvent | None = None) -> bool:
        self.faults.enter("remove")
        with self._lock:
            if not _unchanged(self.tasks.get(task["task_id"]), task):
                return False
            del self.tasks[task["task_id"]]
            if event is not None:
                self.audit.record(event)
            return True

    def resolve(self, task_id: str) -> bool:
        task = self.get(task_id)
        return task is not None and self.remove(task)


def _unchanged(stored: dict[str, Any] | None, read: dict[str, Any]) -> bool:
    return stored is not None and (stored["state"], stored["exception_type"]) == (read["state"], read["exception_type"])


def _history(event: str, at: datetime, **fields: str) -> dict[str, Any]:
    return TaskHistoryEvent.model_validate({"event": event, "at": at, **fields}).model_dump(
        mode="json", exclude_none=True
    )
