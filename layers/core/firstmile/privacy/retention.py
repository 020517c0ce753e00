"""Retention for what no TTL removes (issue 13, item 7; decision 0085): a time-bucketed index of items due for
deletion, and the daily job that deletes what is due, without a Scan.

Most kinds expire by themselves (their ``expires_at`` TTL, or their bucket's lifecycle; the registry says which). A
kind kept for a fixed time after an event (a privacy request, three years after it closed) gets an entry in the
index when that event happens, written in the same transaction:

- ``pk = RETENTION#<yyyy-mm-dd, the day it is due>``, ``sk = <item pk>|<item sk>`` (``kind = retention_entry``),
  ``target_kind``.

The job Queries the partitions of the last ``CATCH_UP_DAYS`` days up to today (a missed day is caught up; after a
longer stop it is invoked once with the first day it missed), deletes
each item and its entry (25 a request), and reports how many of each kind went, as metrics and in its answer.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from firstmile.clock import Clock, utc_now
from firstmile.observability import logger, metrics
from firstmile.platform.gateway import TableGateway, partition
from firstmile.privacy.ports import RetentionStorePort

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RETENTION_DELETED_METRIC = "RetentionItemsDeleted"
CATCH_UP_DAYS = 14


def retention_partition(day: date) -> str:
    return f"RETENTION#{day.isoformat()}"


def retention_entry(key: dict[str, str], kind: str, due: date) -> dict[str, Any]:
    """The index entry that deletes the item at ``key`` (of ``kind``) on ``due``: put it in the item's transaction."""
    return {
        "pk": retention_partition(due),
        "sk": f"{key['pk']}|{key['sk']}",
        "kind": "retention_entry",
        "target_kind": kind,
    }


class RetentionStore:
    """The retention index in the table."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def due(self, day: date) -> list[tuple[dict[str, str], str]]:
        found = []
        for item in self._table.query_all(partition(retention_partition(day))):
            pk, _, sk = str(item["sk"]).partition("|")
            found.append(({"pk": pk, "sk": sk}, str(item.get("target_kind", "unknown"))))
        return found

    def delete(self, day: date, entries: list[tuple[dict[str, str], str]]) -> None:
        keys: list[dict[str, str]] = []
        for key, _ in entries:
            keys += [key, {"pk": retention_partition(day), "sk": f"{key['pk']}|{key['sk']}"}]
        self._table.delete_many(keys)


class RetentionJob:
    """Deletes what is past its retention, day by day."""

    def __init__(self, store: RetentionStorePort, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def run(self, since: date | None = None) -> dict[str, int]:
        """Delete what is due from ``since`` (default: ``CATCH_UP_DAYS`` ago) to today. After the job stopped for
        longer than that, invoke it once with ``{"since": "<the first day it missed>"}``."""
        today = self._clock().date()
        start = since or today - timedelta(days=CATCH_UP_DAYS)
        deleted: Counter[str] = Counter()
        for back in range((today - start).days, -1, -1):
            day = today - timedelta(days=back)
            entries = self._store.due(day)
            if entries:
                self._store.delete(day, entries)
                deleted.update(kind for _, kind in entries)
        total = sum(deleted.values())
        metrics.add_metric(name=RETENTION_DELETED_METRIC, unit="Count", value=total)
        logger.info("retention applied", extra={"deleted": dict(deleted)})
        return {"deleted": total, **{f"deleted.{kind}": n for kind, n in sorted(deleted.items())}}
