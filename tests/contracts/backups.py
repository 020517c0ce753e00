"""The contract of ``DrillStore``: a drill kept, read back by id, the newest first, a later state replacing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from firstmile.backups.models import Drill, KindManifest, Manifest
from firstmile.backups.ports import DrillStore

NOW = datetime.now(UTC).replace(microsecond=0)


def drill(minutes_ago: int, state: str = "restoring") -> Drill:
    started = NOW - timedelta(minutes=minutes_ago)
    drill_id = f"drl_{started:%Y%m%dT%H%M%S}000_abcdef"
    return Drill(
        drill_id=drill_id,
        state=state,  # type: ignore[arg-type]
        backup_arn="arn:aws:dynamodb:us-east-1:1:table/t/backup/01",
        backup_name="firstmile-test-1",
        backup_created_at=started - timedelta(hours=1),
        started_at=started,
        backup_table=f"firstmile-test-drill-{drill_id}-b",
        source_table=f"firstmile-test-drill-{drill_id}-s",
    )


class DrillStoreContract:
    """Subclasses provide ``drills``."""

    implementation: ClassVar[type]

    def test_drills_read_back_by_id_and_newest_first(self, drills: DrillStore) -> None:
        older, newer = drill(90, "passed"), drill(5)
        drills.put(newer)
        drills.put(older)

        assert drills.get(older.drill_id) == older
        assert [d.drill_id for d in drills.recent(10)] == [newer.drill_id, older.drill_id]
        assert drills.latest() == newer
        assert drills.get("drl_19990101T000000000_000000") is None

    def test_a_later_state_replaces_the_drill(self, drills: DrillStore) -> None:
        started = drill(30)
        drills.put(started)
        manifest = Manifest(items=4, kinds={"tenant": KindManifest(items=4, checksum="ff")}, complete=True)
        finished = started.model_copy(
            update={"state": "passed", "restored": manifest, "source": manifest, "restore_seconds": 12.5}
        )
        drills.put(finished)

        assert drills.get(started.drill_id) == finished
        assert len(drills.recent(10)) == 1
