"""DynamoDB's backups and point-in-time recovery for the local stack, which the table engine lacks (decision 0104).

The emulator's endpoint answers ``CreateBackup``, ``ListBackups``, ``DescribeBackup``, ``DeleteBackup``,
``DescribeContinuousBackups``, ``RestoreTableFromBackup`` and ``RestoreTableToPointInTime`` with this module; every
other DynamoDB request goes on to the engine.

A table's state at an instant comes from its change stream, which the local table keeps for a day with both images of
every change, each numbered in the order it happened: the table read now, then every key changed after the instant put
back as its first change after it found it (its old image, or gone if that change created it). A backup notes the
number of the last change when it is taken, so it holds the table exactly as it was at its instant, and a
point-in-time restore to a backup's instant holds the same items, as in AWS: a difference between them is a fault of
the restore path, which is what a restore drill looks for. The local stream dates its changes to the minute only, so
a point-in-time restore to any other instant must name a whole minute.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.emulator import client

RETENTION_SECONDS = 24 * 3600
"""How far back the local table's stream reaches: a point in time older than this cannot be restored."""
TARGETS = frozenset(
    {
        "CreateBackup",
        "ListBackups",
        "DescribeBackup",
        "DeleteBackup",
        "DescribeContinuousBackups",
        "RestoreTableFromBackup",
        "RestoreTableToPointInTime",
    }
)
_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class BackupError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Kept:
    arn: str
    name: str
    table: str
    created: float
    description: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    # The number of the table's last change when the backup was taken (its stream's order).
    last_change: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "TableArn": self.description["TableArn"],
            "BackupArn": self.arn,
            "BackupName": self.name,
            "BackupCreationDateTime": self.created,
            "BackupStatus": "AVAILABLE",
            "BackupType": "USER",
            "BackupSizeBytes": len(json.dumps(self.items, default=str)),
        }


class TableBackups:
    """The backups of the tables of one table engine, kept in memory for the stack's life."""

    targets = TARGETS

    def __init__(self, engine_endpoint: str, *, clock: Callable[[], float] = time.time) -> None:
        self._dynamodb = client("dynamodb", engine_endpoint)
        self._streams = client("dynamodbstreams", engine_endpoint)
        self._clock = clock
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to ``operation``; ``BackupError`` for what DynamoDB would refuse."""
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateBackup": self._create_backup,
            "ListBackups": self._list_backups,
            "DescribeBackup": self._describe_backup,
            "DeleteBackup": self._delete_backup,
            "DescribeContinuousBackups": self._describe_continuous_backups,
            "RestoreTableFromBackup": self._restore_table_from_backup,
            "RestoreTableToPointInTime": self._restore_table_to_point_in_time,
        }
        return handlers[operation](request)

    def _create_backup(self, request: dict[str, Any]) -> dict[str, Any]:
        table = str(request["TableName"])
        description = self._describe(table)
        instant = self._clock()
        last = self._last_change(table)
        items = self._state_after(table, lambda number, _: number > last)
        arn = f"{description['TableArn']}/backup/{int(instant * 1000):017d}-{uuid.uuid4().hex[:8]}"
        kept = _Kept(arn, str(request["BackupName"]), table, instant, _json_ready(description), items, last)
        with self._lock:
            self._kept[arn] = kept
        return {"BackupDetails": {k: v for k, v in kept.summary().items() if k not in ("TableName", "TableArn")}}

    def _list_backups(self, request: dict[str, Any]) -> dict[str, Any]:
        low = float(request.get("TimeRangeLowerBound") or 0)
        high = float(request.get("TimeRangeUpperBound") or math.inf)
        with self._lock:
            kept = sorted(self._kept.values(), key=lambda k: k.created)
        table = request.get("TableName")
        found = [k.summary() for k in kept if (table is None or k.table == table) and low <= k.created < high]
        return {"BackupSummaries": found}

    def _describe_backup(self, request: dict[str, Any]) -> dict[str, Any]:
        kept = self._backup(str(request["BackupArn"]))
        return {"BackupDescription": {"BackupDetails": kept.summary(), "SourceTableDetails": kept.description}}

    def _delete_backup(self, request: dict[str, Any]) -> dict[str, Any]:
        kept = self._backup(str(request["BackupArn"]))
        with self._lock:
            self._kept.pop(kept.arn, None)
        return {"BackupDescription": {"BackupDetails": {**kept.summary(), "BackupStatus": "DELETED"}}}

    def _describe_continuous_backups(self, request: dict[str, Any]) -> dict[str, Any]:
        description = self._describe(str(request["TableName"]))
        now = self._clock()
        created = float(description["CreationDateTime"])
        return {
            "ContinuousBackupsDescription": {
                "ContinuousBackupsStatus": "ENABLED",
                "PointInTimeRecoveryDescription": {
                    "PointInTimeRecoveryStatus": "ENABLED",
                    "EarliestRestorableDateTime": max(created, now - RETENTION_SECONDS),
                    "LatestRestorableDateTime": now,
                    "RecoveryPeriodInDays": 1,
                },
            }
        }

    def _restore_table_from_backup(self, request: dict[str, Any]) -> dict[str, Any]:
        kept = self._backup(str(request["BackupArn"]))
        return {"TableDescription": self._restore(str(request["TargetTableName"]), kept.description, kept.items)}

    def _restore_table_to_point_in_time(self, request: dict[str, Any]) -> dict[str, Any]:
        source = str(request["SourceTableName"])
        description = self._describe(source)
        now = self._clock()
        at = now if request.get("UseLatestRestorableTime") else float(request["RestoreDateTime"])
        if at < max(float(description["CreationDateTime"]), now - RETENTION_SECONDS) or at > now:
            raise BackupError("InvalidRestoreTimeException", f"{at} is outside the table's restorable window")
        with self._lock:
            noted = [k.last_change for k in self._kept.values() if k.table == source and abs(k.created - at) < 0.001]
        if noted:
            last = noted[0]
            items = self._state_after(source, lambda number, _: number > last)
        elif request.get("UseLatestRestorableTime"):
            items = self._state_after(source, lambda _number, _minute: False)
        elif at % 60 == 0:
            items = self._state_after(source, lambda _, minute: minute >= at)
        else:
            raise BackupError(
                "InvalidRestoreTimeException", "the local table restores to a backup's instant or to a whole minute"
            )
        return {"TableDescription": self._restore(str(request["TargetTableName"]), description, items)}

    def _backup(self, arn: str) -> _Kept:
        with self._lock:
            kept = self._kept.get(arn)
        if kept is None:
            raise BackupError("BackupNotFoundException", f"Backup not found: {arn}")
        return kept

    def _describe(self, table: str) -> dict[str, Any]:
        try:
            described: dict[str, Any] = self._dynamodb.describe_table(TableName=table)["Table"]
        except self._dynamodb.exceptions.ResourceNotFoundException:
            raise BackupError("TableNotFoundException", f"Table not found: {table}") from None
        described["CreationDateTime"] = _seconds(described["CreationDateTime"])
        return described

    def _state_after(self, table: str, undone: Callable[[int, float], bool]) -> list[dict[str, Any]]:
        """The table's items read now, every change ``undone`` says (by its number and minute) put back."""
        keys = [k["AttributeName"] for k in self._describe(table)["KeySchema"]]
        items: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            page = self._dynamodb.scan(**request)
            for item in page.get("Items", []):
                items[_identity({k: item[k] for k in keys})] = item
            if not page.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        first: dict[str, tuple[int, dict[str, Any]]] = {}
        for number, minute, change in self._changes(table):
            if undone(number, minute):
                identity = _identity(change["Keys"])
                if identity not in first or number < first[identity][0]:
                    first[identity] = (number, change)
        for identity, (_, change) in first.items():
            if "OldImage" in change:
                items[identity] = change["OldImage"]
            else:
                items.pop(identity, None)
        return list(items.values())

    def _last_change(self, table: str) -> int:
        return max((number for number, _, _ in self._changes(table)), default=0)

    def _changes(self, table: str) -> list[tuple[int, float, dict[str, Any]]]:
        """Every change the table's stream holds: its number, its minute, and the change."""
        stream = self._dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
        if not stream:
            raise BackupError("ValidationException", f"{table} has no stream: the local table cannot look back")
        changes = []
        described = self._streams.describe_stream(StreamArn=stream)["StreamDescription"]
        for shard in described.get("Shards", []):
            iterator = self._streams.get_shard_iterator(
                StreamArn=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            ).get("ShardIterator")
            while iterator:
                page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                records = page.get("Records", [])
                for record in records:
                    change = record["dynamodb"]
                    minute = _seconds(change["ApproximateCreationDateTime"])
                    changes.append((int(change["SequenceNumber"]), minute, change))
                iterator = page.get("NextShardIterator") if records else None
        return changes

    def _restore(self, target: str, description: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": target,
            "KeySchema": description["KeySchema"],
            "AttributeDefinitions": description["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        indexes = [
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in description.get("GlobalSecondaryIndexes") or []
        ]
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        try:
            created = self._dynamodb.create_table(**request)["TableDescription"]
        except self._dynamodb.exceptions.ResourceInUseException:
            raise BackupError("TableAlreadyExistsException", f"Table already exists: {target}") from None
        for start in range(0, len(items), 25):
            pending: list[dict[str, Any]] = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            while pending:
                answer = self._dynamodb.batch_write_item(RequestItems={target: pending})
                pending = answer.get("UnprocessedItems", {}).get(target, [])
        created["CreationDateTime"] = _seconds(created["CreationDateTime"])
        ready: dict[str, Any] = _json_ready(created)
        return ready


def _identity(keys: dict[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True)


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).timestamp()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def error_body(error: BackupError) -> bytes:
    return json.dumps({"__type": _PREFIX + error.code, "message": str(error)}).encode()
