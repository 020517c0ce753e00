"""Dead-letter tasks in the table (decision 0091).

Key formats (docs/data-model.md):
- a task: ``pk = DLQ#TASKS``, ``sk = TASK#<task id>`` (``kind = dead_letter_task``): ids begin with the first send
  time, so the partition lists oldest first and an age is a sort-key range; a task naming a tenant is also in
  ``gsi1``: ``gsi1pk = TENANT#<t>#DLQ``, ``gsi1sk = <task id>``, the tenant admins' list;
- the counters: ``pk = DLQ#TASKS, sk = STATS`` for every task and ``pk = TENANT#<t>#DLQ, sk = STATS`` for a tenant's
  (``kind = dead_letter_stats``), attributes ``total``, ``t:<task>``, ``e:<exception type>``,
  ``p:<task>|<exception type>``, ``s:<state>``, changed in the same transaction as the task they count.

Tasks have no expiry: they leave when retried successfully, deleted or cleared, so the counters always hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from firstmile.errors import DependencyUnavailableError
from firstmile.failures.tasks import MAX_PAYLOAD_TEXT, TaskDraft, TaskFilter, TaskHistoryEvent
from firstmile.platform.gateway import KeyCondition, TableGateway, partition
from firstmile.platform.items import plain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from firstmile.audit.models import AuditEvent
    from firstmile.audit.store import AuditStore

TASKS_PK = "DLQ#TASKS"
STATS_SK = "STATS"
TASK_PREFIX = "TASK#"
INDEX = "gsi1"
_ADMIT_ATTEMPTS = 4
_FIELDS = (
    "task_id",
    "task",
    "kind",
    "source",
    "message_id",
    "location",
    "exception_type",
    "message",
    "traceback",
    "attempts",
    "first_failed_at",
    "last_failed_at",
    "dead_lettered_at",
    "tenant",
    "body",
    "attributes",
    "failure_recorded",
)


def counters_of(task: str, exception_type: str, state: str) -> tuple[str, ...]:
    """The counters one task adds 1 to: the total, its function's, its exception's, the pair's, its state's."""
    return ("total", f"t:{task}", f"e:{exception_type}", f"p:{task}|{exception_type}", f"s:{state}")


def counter_for(criteria: TaskFilter) -> str | None:
    """The one counter holding how many tasks ``criteria`` matches, when there is one (no age filter, and a state
    alone or a function and exception in any combination); ``None`` when the tasks must be counted."""
    if criteria.older_than_hours is not None or criteria.newer_than_hours is not None:
        return None
    task, exception, state = criteria.task_name, criteria.exception_type, criteria.state
    if state is not None:
        return f"s:{state}" if task is None and exception is None else None
    if task and exception:
        return f"p:{task}|{exception}"
    if task:
        return f"t:{task}"
    return f"e:{exception}" if exception else "total"


def tenant_pk(tenant: str) -> str:
    return f"TENANT#{tenant}#DLQ"


def task_key(task_id: str) -> dict[str, str]:
    return {"pk": TASKS_PK, "sk": f"{TASK_PREFIX}{task_id}"}


class TaskStore:
    """The dead-letter tasks and their counters. ``scope`` is a tenant, or ``None`` for every task (operators)."""

    def __init__(self, table: Table | TableGateway, *, audit: AuditStore) -> None:
        self._table = TableGateway.of(table)
        self._audit = audit

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, task_id: str) -> dict[str, Any] | None:
        """The stored task, plain values, or ``None``."""
        item = self._table.get(task_key(task_id))
        return _plain_task(item) if item else None

    def page(
        self, scope: str | None, criteria: TaskFilter, now: datetime, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the tasks in ``scope`` matching ``criteria``, oldest first, and the next page's cursor."""
        condition, options = self._selection(scope, criteria, now)
        items, next_cursor = self._table.query_page(
            condition, limit=limit, cursor=cursor, scope=f"dlq:{scope or '*'}", **options
        )
        return [_plain_task(item) for item in items], next_cursor

    def matching(self, scope: str | None, criteria: TaskFilter, now: datetime) -> Iterator[dict[str, Any]]:
        """Every task in ``scope`` matching ``criteria``, oldest first, read lazily."""
        condition, options = self._selection(scope, criteria, now)
        for item in self._table.query_all(condition, **options):
            yield _plain_task(item)

    def count(self, scope: str | None, criteria: TaskFilter, now: datetime) -> int:
        """How many tasks in ``scope`` match ``criteria``: from the counters when the filter is by task and
        exception only, else by reading the matching keys."""
        counter = counter_for(criteria)
        if counter is not None:
            return self.counters(scope).get(counter, 0)
        condition, options = self._selection(scope, criteria, now)
        return sum(1 for _ in self._table.query_all(condition, **{**options, "projection": "pk"}))

    def counters(self, scope: str | None) -> dict[str, int]:
        """The counters of ``scope``: ``total``, ``t:<task>``, ``e:<exception>``, ``p:<pair>``, ``s:<state>``."""
        item = self._table.get({"pk": tenant_pk(scope) if scope else TASKS_PK, "sk": STATS_SK})
        if not item:
            return {}
        return {k: int(v) for k, v in item.items() if k == "total" or k[:2] in ("t:", "e:", "p:", "s:")}

    def oldest(self, scope: str | None) -> str | None:
        """The id of the oldest task in ``scope``."""
        condition = partition(tenant_pk(scope), index=INDEX) if scope else partition(TASKS_PK).begins_with(TASK_PREFIX)
        page = self._table.query(condition, limit=1, projection="task_id")
        return str(page.items[0]["task_id"]) if page.items else None

    def _selection(self, scope: str | None, criteria: TaskFilter, now: datetime) -> tuple[KeyCondition, dict[str, Any]]:
        low, high = criteria.first_sent_range(now)
        if scope:
            base = partition(tenant_pk(scope), index=INDEX)
            low_key, high_key = low or "0", high or "9"
        else:
            base = partition(TASKS_PK)
            low_key, high_key = f"{TASK_PREFIX}{low or '0'}", f"{TASK_PREFIX}{high or '9'}"
        condition = base.between(low_key, high_key)
        filters, names, values = [], {}, {}
        for field, wanted in (
            ("task", criteria.task_name),
            ("exception_type", criteria.exception_type),
            ("state", criteria.state),
        ):
            if wanted is not None:
                filters.append(f"#{field} = :{field}")
                names[f"#{field}"] = field
                values[f":{field}"] = wanted
        options: dict[str, Any] = {}
        if filters:
            options = {"filter": " AND ".join(filters), "names": names, "values": values}
        return condition, options

    # --- writes --------------------------------------------------------------------------------------------

    def admit(self, draft: TaskDraft) -> str:
        """Store the task a dead letter stands for: ``new`` (a first failure), ``returned`` (a retried task that
        failed again: its history grows), or ``known`` (this letter was already collected). A task that changed
        meanwhile (retried, deleted, collected) is read again, a few times."""
        for _ in range(_ADMIT_ATTEMPTS):
            stored = self.get(draft.task_id)
            if stored is None:
                item = _task_item(draft)
                if self._table.transact([self._table.put_new_action(item), *self._shift(None, item)]) is None:
                    return "new"
                continue  # made meanwhile: admit it as returned, or known
            if stored.get("last_letter") == draft.letter_id:
                return "known"
            counts = self._shift(stored, {**stored, "state": "dead", "exception_type": draft.exception_type})
            if self._table.transact([self._returned(stored, draft), *counts]) is None:
                return "returned"
        raise DependencyUnavailableError("table", "the dead-letter task kept changing")

    def _returned(self, stored: dict[str, Any], draft: TaskDraft) -> dict[str, Any]:
        """The update bringing ``stored`` back as dead after its retried work failed again (``draft``)."""
        event = TaskHistoryEvent(event="failed_again", at=draft.dead_lettered_at, exception_type=draft.exception_type)
        return self._table.update_action(
            task_key(draft.task_id),
            "SET #state = :dead, #type = :type, #msg = :msg, #tb = :tb, #last = :last, #dl = :dl, "
            "#letter = :letter, #attempts = :attempts, #loc = :loc, #rec = :rec, "
            "#history = list_append(if_not_exists(#history, :none), :event)",
            condition="attribute_exists(pk) AND #letter <> :letter AND #state = :was AND #type = :was_type",
            names={
                "#state": "state",
                "#type": "exception_type",
                "#msg": "message",
                "#tb": "traceback",
                "#last": "last_failed_at",
                "#dl": "dead_lettered_at",
                "#letter": "last_letter",
                "#attempts": "attempts",
                "#loc": "location",
                "#rec": "failure_recorded",
                "#history": "history",
            },
            values={
                ":dead": "dead",
                ":type": draft.exception_type,
                ":msg": draft.message,
                ":tb": draft.traceback,
                ":last": draft.last_failed_at.isoformat(),
                ":dl": draft.dead_lettered_at.isoformat(),
                ":letter": draft.letter_id,
                ":attempts": max(draft.attempts, int(stored.get("attempts", 0))),
                ":loc": draft.location,
                ":rec": draft.failure_recorded,
                ":none": [],
                ":event": [event.model_dump(mode="json", exclude_none=True)],
                ":was": stored["state"],
                ":was_type": stored["exception_type"],
            },
        )

    def mark_queued(self, task: dict[str, Any], by: str, at: datetime, event: AuditEvent | None = None) -> bool:
        """Mark ``task`` (as read) sent back to its source by ``by``, with ``event``'s audit entry in the same
        transaction; ``False`` (and nothing written) when the task changed since it was read."""
        history = TaskHistoryEvent(event="retried", at=at, by=by)
        update = self._table.update_action(
            task_key(task["task_id"]),
            "SET #state = :queued, #history = list_append(if_not_exists(#history, :none), :event) ADD #retries :one",
            condition="#state = :was AND #type = :was_type",
            names={"#state": "state", "#history": "history", "#retries": "retries", "#type": "exception_type"},
            values={
                ":queued": "queued",
                ":was": task["state"],
                ":was_type": task["exception_type"],
                ":none": [],
                ":event": [history.model_dump(mode="json", exclude_none=True)],
                ":one": 1,
            },
        )
        return self._apply([update, *self._shift(task, {**task, "state": "queued"})], event)

    def remove(self, task: dict[str, Any], event: AuditEvent | None = None) -> bool:
        """Remove ``task`` (as read) with its counts, and ``event``'s audit entry in the same transaction; ``False``
        (and nothing written) when the task changed since it was read."""
        delete = self._table.delete_action(
            task_key(task["task_id"]),
            condition="#state = :was AND #type = :was_type",
            names={"#state": "state", "#type": "exception_type"},
            values={":was": task["state"], ":was_type": task["exception_type"]},
        )
        return self._apply([delete, *self._shift(task, None)], event)

    def resolve(self, task_id: str) -> bool:
        """The task's retried work succeeded: remove it. ``False`` when it was gone already."""
        for _ in range(3):
            task = self.get(task_id)
            if task is None:
                return False
            if self.remove(task):
                return True
        return False

    def _apply(self, actions: list[dict[str, Any]], event: AuditEvent | None) -> bool:
        if event is None:
            return self._table.transact(actions) is None
        return self._audit.transact(actions, event) is None

    def _shift(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The counter updates for a task leaving ``before`` (as stored; ``None``: it is new) for ``after`` (``None``:
        it is removed): one update per counter item, only the counters that change (a transaction may touch an item
        once)."""
        deltas: dict[str, dict[str, int]] = {}
        for task, delta in ((before, -1), (after, +1)):
            if task is None:
                continue
            tenant = task.get("tenant")
            for scope in (TASKS_PK, *([tenant_pk(tenant)] if tenant else [])):
                counts = deltas.setdefault(scope, {})
                for counter in counters_of(task["task"], task["exception_type"], task["state"]):
                    counts[counter] = counts.get(counter, 0) + delta
        updates = []
        for scope, counts in deltas.items():
            changed = [(counter, delta) for counter, delta in counts.items() if delta]
            if not changed:
                continue
            names = {"#kind": "kind", **{f"#c{n}": counter for n, (counter, _) in enumerate(changed)}}
            values: dict[str, Any] = {":kind": "dead_letter_stats"}
            values |= {f":c{n}": delta for n, (_, delta) in enumerate(changed)}
            additions = ", ".join(f"#c{n} :c{n}" for n in range(len(changed)))
            updates.append(
                self._table.update_action(
                    {"pk": scope, "sk": STATS_SK}, f"SET #kind = :kind ADD {additions}", names=names, values=values
                )
            )
        return updates


def _task_item(draft: TaskDraft) -> dict[str, Any]:
    fields = draft.model_dump(mode="json", exclude={"letter_id", "payload", "tenant"})
    item: dict[str, Any] = {
        **task_key(draft.task_id),
        "kind": "dead_letter_task",
        **fields,
        "state": "dead",
        "retries": 0,
        "last_letter": draft.letter_id,
        "payload_json": json.dumps(draft.payload, default=str)[:MAX_PAYLOAD_TEXT],
        "history": [
            TaskHistoryEvent(
                event="dead_lettered", at=draft.dead_lettered_at, exception_type=draft.exception_type
            ).model_dump(mode="json", exclude_none=True)
        ],
    }
    if draft.tenant:
        item |= {"tenant": draft.tenant, "gsi1pk": tenant_pk(draft.tenant), "gsi1sk": draft.task_id}
    return item


def _plain_task(item: dict[str, Any]) -> dict[str, Any]:
    task = {k: plain(item[k]) for k in (*_FIELDS, "state", "retries", "history", "last_letter") if k in item}
    raw = item.get("payload_json")
    try:
        task["payload"] = json.loads(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        task["payload"] = raw  # cut short: shown as the text it is
    return task
