"""The daily backup, its retention, and the weekly restore drill (decision 0104).

A drill restores the newest backup into one scratch table and the source as of that backup's instant (point-in-time
recovery) into another, waits until both are usable (the restore's duration is the measured RTO), reads both whole
into item counts and checksums per item kind, compares them, records the result and deletes both scratch tables. It
advances one step per run of ``restore_drill`` (every minute: the restore's duration is measured to the minute), so
a restore that takes an hour costs no function an hour; a table too big to read in one run is read over several,
where each left off kept with the drill.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from firstmile import errors as e
from firstmile.backups.manifest import add, compare
from firstmile.backups.models import Backup, BackupList, Drill
from firstmile.backups.ports import ControlPlane, DrillStore

RETENTION_DAYS = 30
DRILL_EVERY = timedelta(days=7)
RTO = timedelta(minutes=15)
"""The recovery time objective: a drill whose restore took longer fails its check."""
FRESH_FOR = timedelta(hours=26)
"""A backup younger than this is fresh (daily, with two hours to spare)."""
GIVE_UP_AFTER = timedelta(hours=6)
VOLATILE_KINDS = frozenset(
    {"sla_tally", "probe_result", "rate_counter", "idempotency_record", "funnel_counter", "flag_epoch"}
)
"""Kinds the system itself writes every second or minute (tallies, probe results, rate counters, idempotency
records, analytics counters, flag-set epochs): a backup and a point-in-time restore to its instant are not the same
snapshot to the millisecond, so these may differ by the writes of that instant; their differences are reported,
and do not fail a drill."""
RESTORE_SECONDS_METRIC = "RestoreDrillSeconds"
RESTORE_OVER_RTO_METRIC = "RestoreDrillOverRto"
RESTORE_DRILL_FAILED_METRIC = "RestoreDrillFailed"


class Backups:
    def __init__(self, control: ControlPlane, *, table: str, stage: str) -> None:
        self._control = control
        self._table = table
        self._stage = stage

    def list(self, now: datetime) -> BackupList:
        backups = self._control.backups(self._table)
        newest = _newest(backups)
        return BackupList(
            backups=backups,
            retention_days=RETENTION_DAYS,
            latest_backup_age_hours=round((now - newest.created_at).total_seconds() / 3600, 2) if newest else None,
            point_in_time=self._control.point_in_time(self._table),
        )

    def create(self, now: datetime) -> Backup:
        return self._control.create_backup(self._table, f"firstmile-{self._stage}-{now:%Y%m%dT%H%M%S}")

    def daily(self, now: datetime) -> dict[str, object]:
        """Today's backup, and the deletion of those past the retention."""
        made = self.create(now)
        # Only Firstmile's own (made by the job or an operator's POST): a backup someone made by hand is theirs.
        expired = [
            b
            for b in self._control.backups(self._table, created_before=now - timedelta(days=RETENTION_DAYS))
            if b.type == "USER" and b.name.startswith(f"firstmile-{self._stage}-")
        ]
        for backup in expired:
            self._control.delete_backup(backup.backup_arn)
        return {"backup": made.name, "deleted": len(expired)}

    def fresh(self, now: datetime) -> bool:
        """Whether a backup younger than ``FRESH_FOR`` exists, or the table itself is younger (none is due yet)."""
        newest = _newest(self._control.backups(self._table))
        if newest is not None:
            return now - newest.created_at < FRESH_FOR
        created = self._control.created_at(self._table)
        return created is not None and now - created < FRESH_FOR


class RestoreDrills:
    def __init__(
        self,
        control: ControlPlane,
        store: DrillStore,
        *,
        table: str,
        stage: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._control = control
        self._store = store
        self._table = table
        self._stage = stage
        self._monotonic = monotonic

    def start(self, now: datetime, *, by: str | None = None) -> Drill:
        """A new drill of the newest backup: both restores asked for."""
        latest = self._store.latest()
        if latest is not None and latest.state in ("restoring", "restored"):
            raise e.DomainError(
                e.BIZ_DRILL_RUNNING,
                f"Drill {latest.drill_id} is still {latest.state}.",
                extensions={"drill_id": latest.drill_id},
            )
        backup = next((b for b in self._control.backups(self._table) if b.status == "AVAILABLE"), None)
        if backup is None:
            raise e.DomainError(e.BIZ_NO_BACKUP, "There is no available backup to restore yet.")
        restorable = self._control.point_in_time(self._table).latest_restorable_at
        if restorable is not None and backup.created_at > restorable:
            # Point-in-time recovery reaches a few minutes back from now: the table as of a newer backup cannot be
            # restored yet.
            raise e.DomainError(
                e.BIZ_NO_BACKUP,
                f"The newest backup ({backup.name}) is newer than the latest restorable instant; try again in a few "
                "minutes.",
                retry_after_seconds=300,
            )
        drill_id = f"drl_{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}_{secrets.token_hex(3)}"
        drill = Drill(
            drill_id=drill_id,
            state="restoring",
            backup_arn=backup.backup_arn,
            backup_name=backup.name,
            backup_created_at=backup.created_at,
            started_at=now,
            backup_table=f"firstmile-{self._stage}-drill-{drill_id}-b",
            source_table=f"firstmile-{self._stage}-drill-{drill_id}-s",
            requested_by=by,
        )
        self._store.put(drill)
        try:
            self._control.restore_backup(backup.backup_arn, drill.backup_table)
            self._control.restore_to(self._table, drill.source_table, backup.created_at)
        except e.DomainError as error:
            return self._fail(drill, now, f"a restore could not start: {error.detail}")
        return drill

    def get(self, drill_id: str) -> Drill:
        found = self._store.get(drill_id)
        if found is None:
            raise e.NotFoundError(f"Restore drill {drill_id}", code=e.RES_DRILL_NOT_FOUND)
        return found

    def recent(self, limit: int) -> list[Drill]:
        return self._store.recent(limit)

    def advance(self, now: datetime, budget_seconds: float) -> Drill | None:
        """One step of the latest drill, or a new one when the last finished more than ``DRILL_EVERY`` ago."""
        drill = self._store.latest()
        if drill is not None and drill.leftover:
            return self._drop_scratch(drill)
        if drill is None or drill.state in ("passed", "failed"):
            if drill is not None and now - drill.started_at < DRILL_EVERY:
                return None
            try:
                return self.start(now)
            except e.DomainError as refused:
                if refused.code == e.BIZ_NO_BACKUP:
                    return None
                raise
        if drill.state == "restoring":
            return self._check_restores(drill, now)
        return self._compare(drill, now, budget_seconds)

    def _check_restores(self, drill: Drill, now: datetime) -> Drill:
        statuses = [self._control.table_status(t) for t in (drill.backup_table, drill.source_table)]
        if all(s == "ACTIVE" for s in statuses):
            drill = drill.model_copy(
                update={
                    "state": "restored",
                    "restored_at": now,
                    "restore_seconds": round((now - drill.started_at).total_seconds(), 1),
                }
            )
            self._store.put(drill)
            return drill
        if now - drill.started_at > GIVE_UP_AFTER:
            return self._fail(drill, now, f"the restores were not usable after {GIVE_UP_AFTER} ({statuses})")
        return drill

    def _compare(self, drill: Drill, now: datetime, budget_seconds: float) -> Drill:
        ends = self._monotonic() + budget_seconds
        restored, source, cursors = drill.restored, drill.source, dict(drill.cursors)
        for name, table in (("restored", drill.backup_table), ("source", drill.source_table)):
            manifest = restored if name == "restored" else source
            while not manifest.complete and self._monotonic() < ends:
                start = _key(cursors.get(name))
                items, last = self._control.scan_page(table, start)
                manifest = add(manifest, items).model_copy(update={"complete": last is None})
                if last is None:
                    cursors.pop(name, None)
                else:
                    cursors[name] = _text(last)
            if name == "restored":
                restored = manifest
            else:
                source = manifest
        drill = drill.model_copy(update={"restored": restored, "source": source, "cursors": cursors})
        if not (restored.complete and source.complete):
            self._store.put(drill)
            return drill
        differing = compare(restored, source)
        mismatches = [m for m in differing if m.kind not in VOLATILE_KINDS]
        volatile = [m for m in differing if m.kind in VOLATILE_KINDS]
        slow = drill.restore_seconds is not None and drill.restore_seconds > RTO.total_seconds()
        error = None
        if mismatches:
            error = f"{len(mismatches)} item kinds differ between the backup's copy and the source as of the backup"
        elif slow:
            error = f"the restore took {drill.restore_seconds} s, over the {int(RTO.total_seconds())} s objective"
        drill = drill.model_copy(
            update={
                "mismatches": mismatches,
                "volatile_differences": volatile,
                "state": "failed" if error else "passed",
                "error": error,
                "finished_at": now,
                "leftover": [drill.backup_table, drill.source_table],
            }
        )
        self._store.put(drill)
        return self._drop_scratch(drill)

    def _fail(self, drill: Drill, now: datetime, error: str) -> Drill:
        failed = drill.model_copy(
            update={
                "state": "failed",
                "error": error,
                "finished_at": now,
                "leftover": [drill.backup_table, drill.source_table],
            }
        )
        self._store.put(failed)
        return self._drop_scratch(failed)

    def _drop_scratch(self, drill: Drill) -> Drill:
        """Delete the drill's scratch tables; one that cannot be deleted yet (a restore still making it) is kept in
        ``leftover`` and deleted by a later run."""
        left = []
        for table in drill.leftover:
            try:
                self._control.delete_table(table)
            except e.DomainError:
                left.append(table)
        kept = drill.model_copy(update={"leftover": left})
        self._store.put(kept)
        return kept


def _newest(backups: list[Backup]) -> Backup | None:
    """The newest backup not deleted (``backups`` come newest first)."""
    return next((b for b in backups if b.status != "DELETED"), None)


def _text(key: dict[str, object]) -> str:
    return json.dumps(key, sort_keys=True)


def _key(text: str | None) -> dict[str, object] | None:
    return json.loads(text) if text else None
