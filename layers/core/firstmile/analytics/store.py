"""Where the funnel counters are kept (``FunnelCounterStore``; decision 0070, docs/data-model.md).

Key formats:
- counter: ``pk = TENANT#<t>#FUNNEL#<flow_id>#V#<version>#SEG#<segment>``, ``sk = <DAY|HOUR>#<period>#STEP#<step
  id or FLOW>`` (``counting.CounterKey``); hour items expire after ``HOUR_RETENTION_DAYS``, day items are kept.
- marker of a counted event: ``pk = TENANT#<t>#FUNNELEVENT#<sha256 of the event's key>``, ``sk = MARKER``, expiring
  after ``MARKER_RETENTION_DAYS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from firstmile.analytics.counting import CounterKey, CounterUpdate, funnel_partition, period_bounds
from firstmile.analytics.ports import MAX_WRITE_ITEMS, CounterItem
from firstmile.errors import DependencyUnavailableError
from firstmile.platform.gateway import CONDITION_FAILED, TableGateway, partition
from firstmile.platform.items import plain, storable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Longer than the stream keeps a record (24 hours) and the consumer's retries of it.
MARKER_RETENTION_DAYS = 3
# The realtime view reads the last 24 hours; a week more is kept for a look back.
HOUR_RETENTION_DAYS = 8
_KEY_ATTRIBUTES = ("pk", "sk", "kind", "expires_at")


def _marker(tenant: str, marker: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant}#FUNNELEVENT#{marker}", "sk": "MARKER"}


class FunnelCounterStore:
    """The funnel counters and the markers of the events they counted."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def count(self, tenant: str, marker: str, updates: Sequence[CounterUpdate], now: datetime) -> bool:
        """One ``TransactWriteItems``: the marker put if absent, and an ``ADD`` of each update's amounts."""
        return self.count_together([(tenant, marker)], updates, now)

    def count_together(
        self, markers: Sequence[tuple[str, str]], updates: Sequence[CounterUpdate], now: datetime
    ) -> bool:
        """One ``TransactWriteItems``: each marker put if absent, and an ``ADD`` of each update's amounts."""
        expires = int((now + timedelta(days=MARKER_RETENTION_DAYS)).timestamp())
        actions = [
            self._table.put_new_action({**_marker(tenant, marker), "kind": "funnel_event", "expires_at": expires})
            for tenant, marker in markers
        ]
        actions += [self._add(update, now) for update in updates]
        if len(actions) > MAX_WRITE_ITEMS:
            raise ValueError(f"{len(actions)} items are more than one counting write holds ({MAX_WRITE_ITEMS})")
        reasons = self._table.transact(actions)
        if reasons is None:
            return True
        if any(reason.get("Code") == CONDITION_FAILED for reason in reasons[: len(markers)]):
            return False
        tenants = ", ".join(sorted({tenant for tenant, _ in markers}))
        raise DependencyUnavailableError("table", f"the funnel counters of tenant {tenants} stayed contended")

    def counted(self, markers: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """BatchGetItem of the markers (strongly consistent: a marker written a moment ago is found)."""
        keys = {_marker(tenant, marker)["pk"]: (tenant, marker) for tenant, marker in markers}
        found = self._table.get_many([_marker(tenant, marker) for tenant, marker in keys.values()], consistent=True)
        return {keys[str(item["pk"])] for item in found}

    def _add(self, update: CounterUpdate, now: datetime) -> dict[str, Any]:
        key: CounterKey = update.key
        names = {"#kind": "kind"}
        values: dict[str, Any] = {":kind": "funnel_counter"}
        adds = []
        for n, (name, amount) in enumerate(sorted(update.amounts.items())):
            names[f"#a{n}"] = name
            values[f":a{n}"] = storable(round(amount, 3) if isinstance(amount, float) else amount)
            adds.append(f"#a{n} :a{n}")
        sets = "#kind = :kind"
        if key.period.startswith("HOUR#"):
            names["#exp"] = "expires_at"
            values[":exp"] = int((now + timedelta(days=HOUR_RETENTION_DAYS)).timestamp())
            sets += ", #exp = :exp"
        return self._table.update_action(
            {"pk": key.pk, "sk": key.sk}, f"SET {sets} ADD {', '.join(adds)}", names=names, values=values
        )

    def read(
        self, tenant: str, flow_id: str, flow_version: int, segment: str, period: str, first: str, last: str
    ) -> list[CounterItem]:
        """One Query of the segment's partition, paged to the end: ``sk BETWEEN <period>#<first> AND
        <period>#<last>#~``."""
        pk = funnel_partition(tenant, flow_id, flow_version, segment)
        condition = partition(pk).between(*period_bounds(period, first, last))
        return [
            (str(item["sk"]), {k: plain(v) for k, v in item.items() if k not in _KEY_ATTRIBUTES})
            for item in self._table.query_all(condition)
        ]
