"""Onboarding: the write units one step completion costs, for a 5-step and a 50-step flow, before and after the
progress layout of decision 0049.

Both layouts run side by side in one run, each on a table of its own in AWS's DynamoDB Local (``local.dynamodb``):

- **before**: the progress item as it was stored until decision 0049: every field of the progress as JSON (each
  step a map of its state and ISO-8601 times) and indexed in ``gsi1``, which projects ALL attributes;
- **after**: the progress item as ``firstmile.onboarding.store`` writes it now, on a table built from ``MAIN_TABLE``.

For each flow size a user is enrolled and steps are completed one by one (step ids like ``connect-data-source``,
times a few minutes apart with microseconds, as the clock gives them). The measured write is the completion of the
middle step (half the steps done) and of the last step (every other step done: the largest item a step writes).

Each measured transaction is costed twice:

- **by the rules** (computed here from the items before and after, DynamoDB's size rules: attribute names plus
  values, a number one byte per two significant digits plus one, a map or list 3 bytes plus 1 per element): a
  transactional write costs 2 units per started KB of the larger of the item before and after; each index the item
  is projected into costs a standard write of the projected size when the projection changes (a delete plus a put
  when the index key changes), nothing when it does not;
- **as DynamoDB Local reports it** (``ReturnConsumedCapacity = INDEXES`` on the ``TransactWriteItems``), where it
  reports anything.

Run ``python bench/step_writes.py``. It prints what it measured and exits 0.
"""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "layers" / "core")]

from bench.measure import run_header  # noqa: E402
from firstmile.onboarding import logic  # noqa: E402
from firstmile.onboarding.models import (  # noqa: E402
    FlowDefinition,
    FlowVersion,
    Progress,
    StepAction,
    StepCommand,
    StepDefinition,
    Transition,
)
from firstmile.platform.table import MAIN_TABLE, GlobalIndex, KeyAttribute, TableDefinition  # noqa: E402

TENANT = "bench-co"
FLOW_ID = "getting-started"
SIZES = (5, 50)
# The layout before decision 0049: the same keys, one index projecting every attribute.
BEFORE_TABLE = TableDefinition(
    logical_name="Table",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    indexes=(GlobalIndex("gsi1", KeyAttribute("gsi1pk"), KeyAttribute("gsi1sk")),),
)
_VERBS = ("connect", "create", "invite", "configure", "import", "review", "enable", "publish", "install", "schedule")
_NOUNS = (
    "data-source",
    "first-project",
    "teammates",
    "billing-details",
    "sample-workflow",
    "api-key",
    "webhook",
    "dashboard",
    "notifications",
    "integration",
)


# --- DynamoDB's accounting -------------------------------------------------------------------------------------


def value_size(value: Any) -> int:
    """The stored size of one attribute value in DynamoDB's wire format (``{"S": ...}``, ``{"M": ...}``)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        digits = Decimal(data).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: member}) for member in data)
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + 1 + value_size(member) for name, member in data.items())
    if kind == "L":
        return 3 + sum(1 + value_size(member) for member in data)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """Attribute names plus values, as DynamoDB counts an item's size."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())


def kb(size: int) -> int:
    """Started kilobytes: a write unit covers up to 1 KB (an absent item still costs one unit)."""
    return max(1, math.ceil(size / 1024))


def projected(item: dict[str, Any] | None, index: GlobalIndex, table: TableDefinition) -> dict[str, Any] | None:
    """What ``index`` holds of ``item``: ``None`` when the item lacks the index's keys."""
    if item is None:
        return None
    keys = [index.partition_key.name] + ([index.sort_key.name] if index.sort_key else [])
    if any(k not in item for k in keys):
        return None
    projection = getattr(index, "projection", "ALL")
    if projection == "ALL":
        return dict(item)
    kept = {table.partition_key.name, table.sort_key.name, *keys, *getattr(index, "attributes", ())}
    return {name: value for name, value in item.items() if name in kept}


def index_units(before: dict[str, Any] | None, after: dict[str, Any] | None, index: GlobalIndex, table: Any) -> int:
    """Standard writes an index takes for one item changing from ``before`` to ``after``."""
    old, new = projected(before, index, table), projected(after, index, table)
    if old == new:
        return 0
    if old is None:
        return kb(item_size(new))
    if new is None:
        return kb(item_size(old))
    keys = [index.partition_key.name] + ([index.sort_key.name] if index.sort_key else [])
    if any(old[k] != new[k] for k in keys):
        return kb(item_size(old)) + kb(item_size(new))
    return kb(max(item_size(old), item_size(new)))


@dataclass
class Cost:
    """The write units of one transaction, by where they are spent."""

    table: int = 0
    indexes: int = 0
    progress_bytes: int = 0

    @property
    def total(self) -> int:
        return self.table + self.indexes


def rules_cost(writes: list[tuple[dict[str, Any] | None, dict[str, Any]]], table: TableDefinition) -> Cost:
    """The cost of a transaction writing each ``(stored before, written)`` pair, by the rules above."""
    cost = Cost()
    for before, after in writes:
        cost.table += 2 * kb(max(item_size(before), item_size(after)))
        cost.indexes += sum(index_units(before, after, index, table) for index in table.indexes)
    return cost


# --- the run ---------------------------------------------------------------------------------------------------


def flow_of(size: int) -> FlowVersion:
    ids = [f"{verb}-{noun}" for noun in _NOUNS for verb in _VERBS][:size]
    steps = [StepDefinition(id=step, title=step.replace("-", " ").capitalize(), order=n) for n, step in enumerate(ids)]
    definition = FlowDefinition(name="Getting started", steps=steps)
    return FlowVersion(
        flow_id=FLOW_ID,
        version=1,
        definition=definition,
        published_at=datetime(2026, 1, 5, tzinfo=UTC),
        published_by="admin",
    )


@dataclass
class Measured:
    layout: str
    steps: int
    position: str
    rules: Cost
    reported: dict[str, float] = field(default_factory=dict)


class CapacityLog:
    """Asks DynamoDB for ``ReturnConsumedCapacity = INDEXES`` on every transaction and keeps what it answers."""

    def __init__(self, client: Any) -> None:
        self.last: list[dict[str, Any]] = []
        client.meta.events.register("before-call.dynamodb.TransactWriteItems", self._before)
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", self._after)

    def _before(self, **_: Any) -> None:
        self.last = []

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.last = list(parsed.get("ConsumedCapacity") or [])


def ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
    params["ReturnConsumedCapacity"] = "INDEXES"


@contextmanager
def table_engine() -> Iterator[str]:
    from local.dynamodb import DynamoDBLocal

    engine = DynamoDBLocal().start()
    try:
        yield engine.endpoint
    finally:
        engine.stop()


def run(endpoint: str) -> list[Measured]:
    import boto3

    from firstmile.onboarding.store import OnboardingStore
    from firstmile.platform.gateway import TableGateway
    from firstmile.platform.items import storable
    from local.emulator import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION

    credentials = {"aws_access_key_id": FAKE_ACCESS_KEY, "aws_secret_access_key": FAKE_SECRET_KEY}
    resource = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION, **credentials)
    resource.meta.client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", ask_for_capacity)
    capacity = CapacityLog(resource.meta.client)
    # The wire format (``{"S": ...}``) for reading items back as DynamoDB sizes them.
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **credentials)
    layouts: dict[str, tuple[TableDefinition, Callable[[Any, Transition], None]]] = {}

    def legacy_write(table: Any, transition: Transition) -> None:
        progress = transition.progress
        gateway = TableGateway(table)
        item = {
            "pk": f"TENANT#{progress.tenant}#USER#{progress.user}",
            "sk": "ONBOARDING#PROGRESS",
            "gsi1pk": f"TENANT#{progress.tenant}#FLOW#{progress.flow_id}#V#{progress.flow_version}",
            "gsi1sk": f"ENROLLED#{progress.enrolled_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#USER#{progress.user}",
            "kind": "onboarding_progress",
            **{k: storable(v) for k, v in progress.model_dump(mode="json").items() if v is not None},
        }
        events = [
            {
                "pk": item["pk"],
                "sk": f"ONBOARDING#EVENT#{e.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{e.progress_version:010d}#{n:02d}",
                "kind": "onboarding_event",
                **{k: storable(v) for k, v in e.model_dump(mode="json").items() if v is not None},
            }
            for n, e in enumerate(transition.events)
        ]
        assert gateway.transact([gateway.put_action(item), *(gateway.put_new_action(e) for e in events)]) is None

    def current_write(table: Any, transition: Transition) -> None:
        OnboardingStore(TableGateway(table)).write_transition(transition)

    layouts["before"] = (BEFORE_TABLE, legacy_write)
    layouts["after"] = (MAIN_TABLE, current_write)

    results: list[Measured] = []
    for layout, (definition, write) in layouts.items():
        name = f"bench-{layout}-{uuid.uuid4().hex[:8]}"
        client.create_table(**definition.create_table_request(name))
        table = resource.Table(name)
        for size in SIZES:
            flow = flow_of(size)
            for position, done in (("middle step", size // 2), ("last step", size - 1)):
                user = f"user-{uuid.uuid4().hex[:12]}"
                now = datetime(2026, 3, 2, 9, 15, 7, 123456, tzinfo=UTC)
                transition = logic.enrol(TENANT, user, flow, now)
                write(table, transition)
                progress: Progress = transition.progress
                steps = flow.definition.steps
                order = [s.id for s in steps if s.id != steps[done].id][:done] + [steps[done].id]
                for n, step_id in enumerate(order):
                    now += timedelta(minutes=3, seconds=17, microseconds=4321)
                    command = StepCommand(step_id=step_id, action=StepAction.COMPLETE)
                    transition = logic.apply_step(progress, flow, command, now, logic.flags_unavailable)
                    last = n == len(order) - 1
                    key = {"pk": f"TENANT#{TENANT}#USER#{user}", "sk": "ONBOARDING#PROGRESS"}
                    stored = client.get_item(TableName=name, Key={k: {"S": v} for k, v in key.items()}).get("Item")
                    write(table, transition)
                    if last:
                        written = client.get_item(TableName=name, Key={k: {"S": v} for k, v in key.items()})["Item"]
                        event_items = _sent_events(client, name, user, transition)
                        cost = rules_cost([(stored, written), *((None, e) for e in event_items)], definition)
                        cost.progress_bytes = item_size(written)
                        results.append(Measured(layout, size, position, cost, _reported(capacity.last)))
                    progress = transition.progress
        client.delete_table(TableName=name)
    return results


def _sent_events(client: Any, table: str, user: str, transition: Transition) -> list[dict[str, Any]]:
    answer = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :events)",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{TENANT}#USER#{user}"}, ":events": {"S": "ONBOARDING#EVENT#"}},
        ScanIndexForward=False,
        Limit=len(transition.events),
    )
    return list(answer["Items"])


def _reported(consumed: list[dict[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for entry in consumed:
        totals["total"] = totals.get("total", 0.0) + float(entry.get("CapacityUnits", 0.0))
        table = entry.get("Table") or {}
        totals["table"] = totals.get("table", 0.0) + float(table.get("CapacityUnits", 0.0))
        for index in (entry.get("GlobalSecondaryIndexes") or {}).values():
            totals["indexes"] = totals.get("indexes", 0.0) + float(index.get("CapacityUnits", 0.0))
    return totals


def print_results(results: list[Measured]) -> None:
    print("\nWrite units of one step completion (TransactWriteItems: the progress and its one event)")
    print(
        f"{'layout':<7} {'steps':>5} {'which':<12} {'progress item':>13} "
        f"{'rules: table':>12} {'+ indexes':>9} {'= total':>7}   {'DynamoDB Local reports':<30}"
    )
    for m in results:
        reported = (
            ", ".join(f"{k} {v:g}" for k, v in sorted(m.reported.items())) if m.reported else "nothing (not reported)"
        )
        print(
            f"{m.layout:<7} {m.steps:>5} {m.position:<12} {m.rules.progress_bytes:>11} B "
            f"{m.rules.table:>12} {m.rules.indexes:>9} {m.rules.total:>7}   {reported}"
        )
    by = {(m.layout, m.steps, m.position): m.rules.total for m in results}
    print("\nGrowth from 5 to 50 steps (by the rules):")
    for layout in ("before", "after"):
        for position in ("middle step", "last step"):
            small, large = by.get((layout, 5, position)), by.get((layout, 50, position))
            if small and large:
                print(f"  {layout:<7} {position:<12} {small} -> {large} units ({large / small:.2f}x)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parse_args(argv)
    for name, value in run_header(datetime.now(UTC)).items():
        print(f"{name}: {value}")
    with table_engine() as endpoint:
        results = run(endpoint)
    print_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
