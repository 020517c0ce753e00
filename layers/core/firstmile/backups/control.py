"""DynamoDB's backup and restore API (``ControlPlane``). Locally the emulator answers these operations, which the
table engine lacks (``local.backups``), so the client is the one for the emulator's endpoint there."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from firstmile.backups.models import Backup, PointInTime
from firstmile.errors import DependencyUnavailableError

COMPONENT = "dynamodb backups"
SCRATCH_TABLE = re.compile(r"firstmile-[a-z0-9-]+-drill-drl_[0-9a-zA-Z_]+-[bs]")
"""A restore drill's scratch table: ``firstmile-<stage>-drill-<drill id>-b`` (the backup's copy) or ``-s`` (the
source as of the backup)."""


class DynamoDbControlPlane:
    def __init__(self, client: Any) -> None:
        self._client = client

    def _call(self, operation: str, **request: Any) -> Any:
        try:
            return getattr(self._client, operation)(**request)
        except Exception as exc:
            code = ((getattr(exc, "response", None) or {}).get("Error") or {}).get("Code")
            if code in ("TableNotFoundException", "ResourceNotFoundException") and operation in (
                "describe_table",
                "delete_table",
            ):
                raise LookupError(code) from exc
            raise DependencyUnavailableError(COMPONENT, str(code or type(exc).__name__)) from exc

    def create_backup(self, table: str, name: str) -> Backup:
        return _backup(self._call("create_backup", TableName=table, BackupName=name)["BackupDetails"])

    def backups(self, table: str, *, created_before: datetime | None = None) -> list[Backup]:
        request: dict[str, Any] = {"TableName": table, "BackupType": "ALL"}
        if created_before is not None:
            request["TimeRangeUpperBound"] = created_before
        found: list[Backup] = []
        while True:
            answer = self._call("list_backups", **request)
            found += [_backup(summary) for summary in answer.get("BackupSummaries", [])]
            last = answer.get("LastEvaluatedBackupArn")
            if not last:
                return sorted(found, key=lambda b: b.created_at, reverse=True)
            request["ExclusiveStartBackupArn"] = last

    def delete_backup(self, backup_arn: str) -> None:
        self._call("delete_backup", BackupArn=backup_arn)

    def point_in_time(self, table: str) -> PointInTime:
        described = self._call("describe_continuous_backups", TableName=table)["ContinuousBackupsDescription"]
        pitr = described.get("PointInTimeRecoveryDescription") or {}
        return PointInTime(
            enabled=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
            earliest_restorable_at=_utc(pitr["EarliestRestorableDateTime"])
            if pitr.get("EarliestRestorableDateTime")
            else None,
            latest_restorable_at=_utc(pitr["LatestRestorableDateTime"])
            if pitr.get("LatestRestorableDateTime")
            else None,
            recovery_period_days=pitr.get("RecoveryPeriodInDays"),
        )

    def restore_backup(self, backup_arn: str, target: str) -> None:
        self._call(
            "restore_table_from_backup",
            TargetTableName=target,
            BackupArn=backup_arn,
            BillingModeOverride="PAY_PER_REQUEST",
            SSESpecificationOverride={"Enabled": True, "SSEType": "KMS"},
        )

    def restore_to(self, source: str, target: str, at: datetime) -> None:
        self._call(
            "restore_table_to_point_in_time",
            SourceTableName=source,
            TargetTableName=target,
            RestoreDateTime=at,
            BillingModeOverride="PAY_PER_REQUEST",
            SSESpecificationOverride={"Enabled": True, "SSEType": "KMS"},
        )

    def table_status(self, table: str) -> str | None:
        try:
            return str(self._call("describe_table", TableName=table)["Table"]["TableStatus"])
        except LookupError:
            return None

    def created_at(self, table: str) -> datetime | None:
        try:
            return _utc(self._call("describe_table", TableName=table)["Table"]["CreationDateTime"])
        except LookupError:
            return None

    def scan_page(self, table: str, start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        # The one Scan of the runtime (tests/unit/test_no_scan.py allows it here): a drill reads its scratch copies
        # whole, never the live table; IAM allows it on the drill's tables only.
        if not SCRATCH_TABLE.fullmatch(table):
            raise ValueError(f"{table} is not a restore drill's scratch table")
        request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        if start:
            request["ExclusiveStartKey"] = start
        try:
            answer = self._client.scan(**request)
        except Exception as exc:
            raise DependencyUnavailableError(COMPONENT, type(exc).__name__) from exc
        return list(answer.get("Items", [])), answer.get("LastEvaluatedKey") or None

    def delete_table(self, table: str) -> None:
        try:
            self._call("delete_table", TableName=table)
        except LookupError:
            return


def _backup(details: dict[str, Any]) -> Backup:
    """A backup as ``CreateBackup``'s details or a ``ListBackups`` summary describe it."""
    return Backup(
        backup_arn=details["BackupArn"],
        name=details["BackupName"],
        created_at=_utc(details["BackupCreationDateTime"]),
        size_bytes=details.get("BackupSizeBytes"),
        status=details["BackupStatus"],
        type=details.get("BackupType", "USER"),
    )


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)
