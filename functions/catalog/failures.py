"""Failed work (issue 14): the dead-letter collector and the dead-letter task routes (decision 0091).

The routes serve admins (their tenant's tasks) and operators (every task): the handler scopes what each sees.
"""

from __future__ import annotations

from functools import partial

from firstmile.platform.resources import SCHEDULER_DLQ, dead_letter_queue_name
from functions.catalog import analytics, backups, flags, health, identity, onboarding, privacy, sla, webhooks
from functions.catalog.model import Access, Function, HttpMethod, LogSubscription, Queue, Route, Schedule, TableStream

STACK = "failures"
_TASK = "/v1/admin/dlq/tasks/{task_id}"

_OTHERS = (
    *health.FUNCTIONS,
    *identity.FUNCTIONS,
    *onboarding.FUNCTIONS,
    *flags.FUNCTIONS,
    *analytics.FUNCTIONS,
    *privacy.FUNCTIONS,
    *webhooks.FUNCTIONS,
    *sla.FUNCTIONS,
    *backups.FUNCTIONS,
)
_WORK_QUEUES = tuple(sorted(f.trigger.name for f in _OTHERS if isinstance(f.trigger, Queue)))
_DEAD_LETTER_QUEUES = (*(dead_letter_queue_name(q) for q in _WORK_QUEUES), SCHEDULER_DLQ)
# A retry invokes a scheduled run, a stream batch or a log delivery again: those functions, and no other.
_RETRIED_BY_INVOKING = tuple(
    sorted(f.name for f in _OTHERS if isinstance(f.trigger, Schedule | TableStream | LogSubscription))
) + ("dlq_collector",)
_SENDS_BACK = Access(table="write", sends_to=_WORK_QUEUES, stream_failures="read", invokes=_RETRIED_BY_INVOKING)


def _route(
    name: str, method: HttpMethod, path: str, description: str, *, access: Access | None = None, timeout: int = 10
) -> Function:
    return Function(
        name=name,
        domain="failures",
        stack=STACK,
        description=description,
        trigger=Route(method, path, "admin", also="operator"),
        timeout_seconds=timeout,
        access=access or Access(table="write"),
    )


_read = partial(_route, access=Access(table="read"))

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="dlq_collector",
        domain="failures",
        stack=STACK,
        description="Every minute, turns each dead letter (every DLQ, every failed stream batch) into a task.",
        trigger=Schedule("rate(1 minute)"),
        timeout_seconds=60,
        reserved_concurrency=1,
        access=Access(table="write", receives_from=_DEAD_LETTER_QUEUES, stream_failures="collect"),
    ),
    _read(
        "admin_dlq_tasks_list",
        "GET",
        "/v1/admin/dlq/tasks",
        "Dead-letter tasks oldest first, by task, exception, age or state, with their total.",
    ),
    _read("admin_dlq_task_get", "GET", _TASK, "One dead-letter task: its traceback, payload and history."),
    _route(
        "admin_dlq_task_retry",
        "POST",
        f"{_TASK}/retry",
        "Sends a dead-letter task's work back to its source.",
        access=_SENDS_BACK,
    ),
    _route("admin_dlq_task_delete", "DELETE", _TASK, "Deletes a dead-letter task."),
    _read("admin_dlq_stats", "GET", "/v1/admin/dlq/stats", "Dead-letter tasks per function, exception and state."),
    _route(
        "admin_dlq_clear",
        "POST",
        "/v1/admin/dlq/clear",
        "Deletes the tasks a filter matches (a dry run by default), 100 a call.",
        timeout=29,
    ),
    _route(
        "admin_dlq_redrive",
        "POST",
        "/v1/admin/dlq/redrive",
        "Sends back the dead tasks a filter matches (a dry run by default), 100 a call.",
        access=_SENDS_BACK,
        timeout=29,
    ),
)
