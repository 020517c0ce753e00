"""The daily backup, its retention, and the restore drill step by step (decision 0104), on an in-memory control
plane: a drill passes when the backup's copy equals the source as of the backup, reports each differing kind when
the copy was altered, fails a restore slower than the objective, and reads a big table over several runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile.backups.manifest import add, compare, digest
from firstmile.backups.models import Manifest
from firstmile.backups.service import RETENTION_DAYS, Backups, RestoreDrills
from firstmile.errors import DomainError
from tests.fakes.backups import FakeControlPlane, FakeDrillStore

TABLE = "firstmile-test"


def item(pk: str, kind: str, **values: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "X"}, "kind": {"S": kind}, **{k: {"S": v} for k, v in values.items()}}


def source() -> list[dict[str, Any]]:
    return [item(f"T#{i}", "tenant", name=f"n{i}") for i in range(5)] + [
        item(f"U#{i}", "progress", step="a") for i in range(4)
    ]


@pytest.fixture
def control() -> FakeControlPlane:
    return FakeControlPlane({TABLE: source()})


def drills_over(control: FakeControlPlane, store: FakeDrillStore | None = None) -> RestoreDrills:
    return RestoreDrills(control, store or FakeDrillStore(), table=TABLE, stage="test")


def test_a_drill_passes_when_the_backups_copy_is_the_source_as_of_the_backup(control: FakeControlPlane) -> None:
    now = datetime.now(UTC)
    Backups(control, table=TABLE, stage="test").create(now)
    control.tables[TABLE].append(item("T#late", "tenant"))  # written after the backup: not in either copy
    drills = drills_over(control)

    started = drills.start(now, by="op-1")
    restored = drills.advance(now + timedelta(minutes=5), budget_seconds=60)
    finished = drills.advance(now + timedelta(minutes=10), budget_seconds=60)

    assert (started.state, restored and restored.state, finished and finished.state) == (
        "restoring",
        "restored",
        "passed",
    )
    assert restored is not None and restored.restore_seconds == 300.0
    assert finished is not None and finished.restored.kinds["tenant"].items == 5
    assert finished.restored == finished.source and finished.mismatches == []
    assert started.backup_table not in control.tables and started.source_table not in control.tables  # cleaned up


def test_an_altered_copy_is_reported_kind_by_kind(control: FakeControlPlane) -> None:
    now = datetime.now(UTC)
    Backups(control, table=TABLE, stage="test").create(now)
    drills = drills_over(control)
    started = drills.start(now)
    drills.advance(now + timedelta(minutes=1), budget_seconds=60)

    # The backup's copy altered after the restore: one progress item changed, one tenant added
    copy = control.tables[started.backup_table]
    copy[-1] = item("U#3", "progress", step="b")
    copy.append(item("T#x", "tenant"))
    finished = drills.advance(now + timedelta(minutes=2), budget_seconds=60)

    assert finished is not None and finished.state == "failed"
    assert [(m.kind, m.restored_items, m.source_items, m.checksums_equal) for m in finished.mismatches] == [
        ("progress", 4, 4, False),
        ("tenant", 6, 5, False),
    ]
    assert "2 item kinds differ" in (finished.error or "")


def test_a_restore_slower_than_the_objective_fails_the_drill(control: FakeControlPlane) -> None:
    now = datetime.now(UTC)
    Backups(control, table=TABLE, stage="test").create(now)
    control.slow_restores = True
    drills = drills_over(control)
    started = drills.start(now)
    assert drills.advance(now + timedelta(minutes=5), budget_seconds=60).state == "restoring"  # type: ignore[union-attr]

    control.statuses[started.backup_table] = control.statuses[started.source_table] = "ACTIVE"
    restored = drills.advance(now + timedelta(minutes=20), budget_seconds=60)
    finished = drills.advance(now + timedelta(minutes=25), budget_seconds=60)

    assert restored is not None and restored.restore_seconds == 1200.0
    assert finished is not None and finished.state == "failed" and "over the 900 s objective" in (finished.error or "")


def test_a_table_too_big_for_one_run_is_read_over_several() -> None:
    control = FakeControlPlane({TABLE: [item(f"T#{i}", "tenant") for i in range(10)]})
    now = datetime.now(UTC)
    Backups(control, table=TABLE, stage="test").create(now)
    ticks = iter(range(1000))
    drills = RestoreDrills(control, FakeDrillStore(), table=TABLE, stage="test", monotonic=lambda: float(next(ticks)))
    drills.start(now)
    drills.advance(now, budget_seconds=60)

    runs = 0
    drill = None
    while drill is None or drill.state == "restored":
        drill = drills.advance(now, budget_seconds=1.5)  # about one page a run
        runs += 1
    assert drill.state == "passed" and runs > 3
    assert drill.restored.items == drill.source.items == 10


def test_the_next_drill_waits_a_week_and_another_cannot_start_while_one_runs(control: FakeControlPlane) -> None:
    now = datetime.now(UTC)
    drills = drills_over(control)
    assert drills.advance(now, budget_seconds=60) is None  # no backup yet: nothing to drill
    Backups(control, table=TABLE, stage="test").create(now)

    first = drills.advance(now, budget_seconds=60)
    with pytest.raises(DomainError) as refused:
        drills.start(now)
    assert refused.value.code == "BIZ_DRILL_RUNNING"
    drills.advance(now, budget_seconds=60)
    drills.advance(now, budget_seconds=60)
    assert drills.advance(now + timedelta(days=6), budget_seconds=60) is None
    second = drills.advance(now + timedelta(days=7, minutes=1), budget_seconds=60)
    assert first is not None and second is not None and second.drill_id != first.drill_id


def test_the_daily_backup_deletes_those_past_the_retention_and_freshness_follows_the_newest(
    control: FakeControlPlane,
) -> None:
    backups = Backups(control, table=TABLE, stage="test")
    now = datetime.now(UTC)
    old = backups.create(now - timedelta(days=1))
    control.kept[0] = (old.model_copy(update={"created_at": now - timedelta(days=RETENTION_DAYS + 1)}), [])
    assert not backups.fresh(now)  # the only backup is a month old

    summary = backups.daily(now)

    assert summary["deleted"] == 1 and [b.name for b in backups.list(now).backups] == [summary["backup"]]
    assert backups.fresh(now) and backups.list(now).latest_backup_age_hours == 0.0


def test_checksums_do_not_depend_on_the_order_items_or_set_members_are_read_in() -> None:
    items = [item("A", "tenant"), item("B", "tenant"), {"pk": {"S": "C"}, "tags": {"SS": ["x", "y"]}}]
    reordered = [items[2] | {"tags": {"SS": ["y", "x"]}}, items[1], items[0]]

    assert add(Manifest(), items) == add(Manifest(), reordered)
    assert digest(items[0]) != digest(items[1])
    assert compare(add(Manifest(), items), add(Manifest(), items[:2])) != []


def test_a_scratch_table_that_cannot_be_deleted_yet_is_deleted_by_a_later_run(control: FakeControlPlane) -> None:
    now = datetime.now(UTC)
    Backups(control, table=TABLE, stage="test").create(now)
    drills = drills_over(control)
    started = drills.start(now)
    drills.advance(now, budget_seconds=60)
    control.faults.unavailable("delete_table", reason="ResourceInUseException")

    finished = drills.advance(now, budget_seconds=60)
    assert finished is not None and finished.state == "passed" and finished.leftover == [started.backup_table]

    again = drills.advance(now + timedelta(minutes=1), budget_seconds=60)
    assert again is not None and again.leftover == [] and started.backup_table not in control.tables


def test_a_backup_newer_than_the_latest_restorable_instant_waits(control: FakeControlPlane) -> None:
    now = datetime.now(UTC)
    Backups(control, table=TABLE, stage="test").create(now)
    control.latest_restorable = now - timedelta(minutes=5)

    with pytest.raises(DomainError) as refused:
        drills_over(control).start(now)
    assert refused.value.code == "BIZ_NO_BACKUP" and refused.value.retry_after_seconds == 300
    assert drills_over(control).advance(now, budget_seconds=60) is None
