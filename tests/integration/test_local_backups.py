"""Backups and point-in-time restores on the emulator (decision 0104), through the real control-plane adapter: a
backup holds the table as it was at its instant, a restore to that instant holds the same, and a restore drill over
them passes, then reports the kinds that differ when the backup's copy is altered before the comparison."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from firstmile.backups.control import DynamoDbControlPlane
from firstmile.backups.service import Backups, RestoreDrills
from firstmile.backups.store import DrillStoreOnTable
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway
from tests.integration.conftest import Deployment


def control_of(deployment: Deployment) -> DynamoDbControlPlane:
    return DynamoDbControlPlane(boto3.client("dynamodb", endpoint_url=deployment.endpoint, region_name="us-east-1"))


def put(deployment: Deployment, pk: str, kind: str, **values: Any) -> None:
    deployment.table.put_item(Item={"pk": pk, "sk": "X", "kind": kind, **values})


@pytest.fixture
def seeded(deployment: Deployment) -> Deployment:
    for i in range(30):
        put(deployment, f"TENANT#{i}", "tenant", name=f"t{i}", tags={"a", "b"})
    for i in range(12):
        put(deployment, f"USER#{i}", "onboarding_progress", step="welcome", version=i)
    return deployment


def test_a_backup_and_a_restore_to_its_instant_hold_the_table_as_it_was(seeded: Deployment) -> None:
    control = control_of(seeded)
    backup = Backups(control, table=seeded.table_name, stage="t").create(datetime.now(UTC))
    # After the backup: a new item, a changed one, a deleted one
    put(seeded, "TENANT#new", "tenant")
    put(seeded, "USER#0", "onboarding_progress", step="done", version=99)
    seeded.table.delete_item(Key={"pk": "TENANT#3", "sk": "X"})

    control.restore_backup(backup.backup_arn, "firstmile-t-drill-drl_1_a-b")
    control.restore_to(seeded.table_name, "firstmile-t-drill-drl_1_a-s", backup.created_at)

    copies = [scan(control, name) for name in ("firstmile-t-drill-drl_1_a-b", "firstmile-t-drill-drl_1_a-s")]
    for items in copies:
        assert len(items) == 42
        assert "TENANT#new" not in {i["pk"]["S"] for i in items} and "TENANT#3" in {i["pk"]["S"] for i in items}
        assert next(i for i in items if i["pk"]["S"] == "USER#0")["step"] == {"S": "welcome"}
    assert sorted(map(str, copies[0])) == sorted(map(str, copies[1]))
    assert [b.backup_arn for b in control.backups(seeded.table_name)] == [backup.backup_arn]
    assert control.point_in_time(seeded.table_name).enabled


def scan(control: DynamoDbControlPlane, table: str) -> list[dict[str, Any]]:
    items, start = [], None
    while True:
        page, start = control.scan_page(table, start)
        items += page
        if start is None:
            return items


def test_a_drill_passes_then_reports_an_altered_copy(seeded: Deployment) -> None:
    control = control_of(seeded)
    table = seeded.table_name
    Backups(control, table=table, stage="t").create(datetime.now(UTC))
    put(seeded, "TENANT#after", "tenant")  # the live table moves on; the drill compares as of the backup
    drills = RestoreDrills(
        control, DrillStoreOnTable(TableGateway.over_client(aws.dynamodb(), table)), table=table, stage="t"
    )

    first = drills.start(datetime.now(UTC), by="op")
    assert drills.advance(datetime.now(UTC), 60).state == "restored"  # type: ignore[union-attr]
    passed = drills.advance(datetime.now(UTC), 60)
    assert passed is not None and passed.state == "passed", passed
    assert passed.restored.kinds["tenant"].items == 30 and passed.restored.kinds["onboarding_progress"].items == 12
    assert control.table_status(first.backup_table) is None and control.table_status(first.source_table) is None

    second = drills.start(datetime.now(UTC))
    drills.advance(datetime.now(UTC), 60)
    boto3.client("dynamodb", endpoint_url=seeded.endpoint, region_name="us-east-1").put_item(
        TableName=second.backup_table,
        Item={"pk": {"S": "USER#5"}, "sk": {"S": "X"}, "kind": {"S": "onboarding_progress"}, "step": {"S": "forged"}},
    )
    failed = drills.advance(datetime.now(UTC), 60)
    assert failed is not None and failed.state == "failed"
    assert [(m.kind, m.restored_items, m.source_items, m.checksums_equal) for m in failed.mismatches] == [
        ("onboarding_progress", 12, 12, False)
    ]
