"""DynamoDB's backup and restore API in memory (``ControlPlane``), and the restore drills' records (``DrillStore``)."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime
from typing import Any

from firstmile.backups.models import Backup, Drill, PointInTime
from tests.fakes.faults import Faults


class FakeControlPlane:
    """Tables as lists of items (typed JSON), a backup as a copy of one, point-in-time as what ``history`` says the
    table held at an instant (by default its items now). A restore is usable at once, unless ``slow_restores``."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.faults = Faults()
        self.tables: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in (tables or {}).items()}
        self.statuses: dict[str, str] = dict.fromkeys(self.tables, "ACTIVE")
        self.created: dict[str, datetime] = dict.fromkeys(self.tables, datetime(2026, 1, 1, tzinfo=UTC))
        self.kept: list[tuple[Backup, list[dict[str, Any]]]] = []
        self.history: dict[datetime, list[dict[str, Any]]] = {}
        self.slow_restores = False
        self.latest_restorable: datetime | None = None
        self.page_size = 3
        self._lock = threading.Lock()

    def create_backup(self, table: str, name: str) -> Backup:
        self.faults.enter("create_backup")
        at = datetime.now(UTC)
        backup = Backup(backup_arn=f"arn:backup/{name}", name=name, created_at=at, status="AVAILABLE", type="USER")
        with self._lock:
            self.kept.append((backup, copy.deepcopy(self.tables[table])))
            self.history[at] = copy.deepcopy(self.tables[table])
        return backup

    def backups(self, table: str, *, created_before: datetime | None = None) -> list[Backup]:
        self.faults.enter("backups")
        found = [b for b, _ in self.kept if created_before is None or b.created_at < created_before]
        return sorted(found, key=lambda b: b.created_at, reverse=True)

    def delete_backup(self, backup_arn: str) -> None:
        self.kept = [(b, items) for b, items in self.kept if b.backup_arn != backup_arn]

    def point_in_time(self, table: str) -> PointInTime:
        return PointInTime(enabled=True, recovery_period_days=7, latest_restorable_at=self.latest_restorable)

    def restore_backup(self, backup_arn: str, target: str) -> None:
        self.faults.enter("restore_backup")
        (items,) = [items for b, items in self.kept if b.backup_arn == backup_arn]
        self._made(target, items)

    def restore_to(self, source: str, target: str, at: datetime) -> None:
        self.faults.enter("restore_to")
        self._made(target, self.history.get(at, self.tables[source]))

    def _made(self, target: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self.tables[target] = copy.deepcopy(items)
            self.statuses[target] = "CREATING" if self.slow_restores else "ACTIVE"
            self.created[target] = datetime.now(UTC)

    def table_status(self, table: str) -> str | None:
        return self.statuses.get(table)

    def created_at(self, table: str) -> datetime | None:
        return self.created.get(table)

    def scan_page(self, table: str, start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        self.faults.enter("scan_page")
        offset = int(start["offset"]) if start else 0
        items = self.tables[table][offset : offset + self.page_size]
        ends = offset + self.page_size >= len(self.tables[table])
        return copy.deepcopy(items), (None if ends else {"offset": offset + self.page_size})

    def delete_table(self, table: str) -> None:
        self.faults.enter("delete_table")
        with self._lock:
            self.tables.pop(table, None)
            self.statuses.pop(table, None)


class FakeDrillStore:
    """``DrillStore`` in memory."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._drills: dict[str, Drill] = {}

    def put(self, drill: Drill) -> None:
        self.faults.enter("put")
        self._drills[drill.drill_id] = drill.model_copy(deep=True)

    def get(self, drill_id: str) -> Drill | None:
        found = self._drills.get(drill_id)
        return found.model_copy(deep=True) if found else None

    def latest(self) -> Drill | None:
        found = self.recent(1)
        return found[0] if found else None

    def recent(self, limit: int) -> list[Drill]:
        return [self._drills[k].model_copy(deep=True) for k in sorted(self._drills, reverse=True)[:limit]]
