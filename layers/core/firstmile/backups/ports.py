"""What backups and drills need of AWS and of storage: ``ControlPlane`` (DynamoDB's backup and restore API, emulated
locally) and ``DrillStore`` (the drills' records in the table; its fake passes the same contract suite,
tests/contracts/backups.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from firstmile.backups.models import Backup, Drill, PointInTime


class ControlPlane(Protocol):
    def create_backup(self, table: str, name: str) -> Backup: ...

    def backups(self, table: str, *, created_before: datetime | None = None) -> list[Backup]:
        """The table's backups, newest first."""
        ...

    def delete_backup(self, backup_arn: str) -> None: ...

    def point_in_time(self, table: str) -> PointInTime: ...

    def restore_backup(self, backup_arn: str, target: str) -> None: ...

    def restore_to(self, source: str, target: str, at: datetime) -> None: ...

    def table_status(self, table: str) -> str | None:
        """CREATING, ACTIVE, ... or ``None`` when there is no such table."""
        ...

    def created_at(self, table: str) -> datetime | None: ...

    def scan_page(self, table: str, start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the table's items (DynamoDB's typed JSON) and where the next starts."""
        ...

    def delete_table(self, table: str) -> None: ...


class DrillStore(Protocol):
    def put(self, drill: Drill) -> None: ...

    def latest(self) -> Drill | None: ...

    def get(self, drill_id: str) -> Drill | None: ...

    def recent(self, limit: int) -> list[Drill]:
        """The newest drills first."""
        ...
