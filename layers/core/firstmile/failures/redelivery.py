"""Sending a task's work back where it came from (decision 0091), marked with the task's id so its consumer
resolves the task on success and records a further failure on the same record:

- a queue message goes back to its queue, body and attributes as they were, plus the two marks as attributes;
- a scheduled run is invoked again asynchronously with its event, the marks as two more fields;
- a stream batch is invoked again asynchronously with the kept event, marked alike. Its consumer raises when a
  record of a retried batch still fails, so the invocation fails and Lambda's on-failure destination (the
  invocation dead-letter queue) brings the task back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from firstmile.errors import DependencyUnavailableError
from firstmile.failures.tasks import ORIGIN_MESSAGE_ATTRIBUTE, TASK_ID_ATTRIBUTE


class Sender(Protocol):
    def send(self, name: str, body: str, attributes: dict[str, str]) -> str: ...


class KeptBatches(Protocol):
    def get(self, key: str) -> bytes | None: ...


Invoke = Callable[[str, dict[str, Any]], None]
"""Invokes a function of the catalogue (by name) asynchronously with an event."""


def marks(task: dict[str, Any]) -> dict[str, str]:
    """What a retried task's work carries."""
    return {TASK_ID_ATTRIBUTE: str(task["task_id"]), ORIGIN_MESSAGE_ATTRIBUTE: str(task["message_id"])}


class Redelivery:
    def __init__(self, queues: Sender, invoke: Invoke, batches: KeptBatches) -> None:
        self._queues = queues
        self._invoke = invoke
        self._batches = batches

    def __call__(self, task: dict[str, Any]) -> None:
        kind = task["kind"]
        if kind == "queue":
            queue = str(task["source"]).split(":", 1)[1]
            self._queues.send(queue, str(task["body"]), {**(task.get("attributes") or {}), **marks(task)})
            return
        if kind == "schedule":
            event = json.loads(task["body"])
        else:
            raw = self._batches.get(str(task["body"]))
            if raw is None:
                raise DependencyUnavailableError("stream failures bucket", "the kept batch is gone")
            event = json.loads(json.loads(raw)["payload"])
        self._invoke(str(task["task"]), {**(event if isinstance(event, dict) else {"event": event}), **marks(task)})
