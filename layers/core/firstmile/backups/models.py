"""What the backup routes answer and the restore drills keep."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from firstmile.model import Model

DrillState = Literal["restoring", "restored", "passed", "failed"]


class Backup(Model):
    backup_arn: str
    name: str
    created_at: datetime
    size_bytes: int | None = None
    status: str = Field(description="CREATING, AVAILABLE or DELETED")
    type: str = Field(description="USER (made by Firstmile or an operator), SYSTEM or AWS_BACKUP")


class PointInTime(Model):
    enabled: bool
    earliest_restorable_at: datetime | None = None
    latest_restorable_at: datetime | None = None
    recovery_period_days: int | None = None


class BackupList(Model):
    backups: list[Backup] = Field(description="Newest first")
    retention_days: int
    latest_backup_age_hours: float | None
    point_in_time: PointInTime


class KindManifest(Model):
    items: int = 0
    checksum: str = Field(default="0", description="The sum of the items' digests modulo 2^64, in hex")


class Manifest(Model):
    items: int = 0
    kinds: dict[str, KindManifest] = Field(default_factory=dict)
    complete: bool = False


class KindMismatch(Model):
    kind: str
    restored_items: int
    source_items: int
    checksums_equal: bool


class Drill(Model):
    drill_id: str
    state: DrillState
    backup_arn: str
    backup_name: str
    backup_created_at: datetime
    started_at: datetime
    restored_at: datetime | None = None
    finished_at: datetime | None = None
    restore_seconds: float | None = Field(
        default=None, description="From the start until both scratch tables were usable: the measured RTO"
    )
    backup_table: str = Field(description="The scratch table the backup was restored into")
    source_table: str = Field(description="The scratch table the source was restored into, as of the backup")
    restored: Manifest = Field(default_factory=Manifest, description="The backup's copy, item counts and checksums")
    source: Manifest = Field(default_factory=Manifest, description="The source as of the backup")
    mismatches: list[KindMismatch] = Field(default_factory=list)
    volatile_differences: list[KindMismatch] = Field(
        default_factory=list, description="Differences in kinds the system writes constantly: reported, not failing"
    )
    leftover: list[str] = Field(default_factory=list, description="Scratch tables still to delete")
    error: str | None = None
    requested_by: str | None = None
    cursors: dict[str, str] = Field(default_factory=dict, description="Where each table's scan goes on")


class DrillPage(Model):
    drills: list[Drill]
