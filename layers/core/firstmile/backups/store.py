"""Where the restore drills are kept (``DrillStoreOnTable``).

Key format (docs/data-model.md): ``pk = BACKUP#DRILLS``, ``sk = DRILL#<drill id>`` (the id starts with the start
time, so the partition reads newest first), kept a year.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from firstmile.backups.models import Drill
from firstmile.platform.gateway import TableGateway, partition
from firstmile.platform.items import plain, storable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

DRILL_KIND = "restore_drill"
RETENTION = timedelta(days=365)
_PK = "BACKUP#DRILLS"


class DrillStoreOnTable:
    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def put(self, drill: Drill) -> None:
        self._table.put(
            {
                "pk": _PK,
                "sk": f"DRILL#{drill.drill_id}",
                "kind": DRILL_KIND,
                "drill": storable(drill.model_dump(mode="json")),
                "expires_at": int((drill.started_at + RETENTION).timestamp()),
            }
        )

    def get(self, drill_id: str) -> Drill | None:
        item = self._table.get({"pk": _PK, "sk": f"DRILL#{drill_id}"}, consistent=True)
        return Drill.model_validate(plain(item["drill"])) if item else None

    def latest(self) -> Drill | None:
        found = self.recent(1)
        return found[0] if found else None

    def recent(self, limit: int) -> list[Drill]:
        page = self._table.query(partition(_PK).begins_with("DRILL#"), limit=limit, newest_first=True, consistent=True)
        return [Drill.model_validate(plain(item["drill"])) for item in page.items]
