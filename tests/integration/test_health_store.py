"""Probe results against the emulator: the contract on the table engine, and the items they are kept as."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from firstmile.errors import DependencyUnavailableError
from firstmile.health.store import ProbeResultStore
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway
from tests.contracts.health import TODAY, ProbeResultsContract, result
from tests.integration.conftest import Deployment


class TestProbeResultStoreContract(ProbeResultsContract):
    """The probe results' contract, on the table engine."""

    implementation = ProbeResultStore

    @pytest.fixture
    def probe_results(self, deployment: Deployment) -> ProbeResultStore:
        return ProbeResultStore(TableGateway.over_client(aws.dynamodb(), deployment.table_name))


def test_a_result_is_one_item_under_its_day_expiring_after_the_retention(deployment: Deployment) -> None:
    ProbeResultStore(aws.table(deployment.table_name)).record(result(TODAY, "table"))

    item = deployment.table.get_item(
        Key={"pk": f"PROBE#{TODAY.date().isoformat()}", "sk": TODAY.isoformat()}, ConsistentRead=True
    )["Item"]

    assert item["kind"] == "probe_result"
    assert item["status"] == "failed"
    assert item["failed"] == ["table"]
    assert item["components"][0] == {
        "name": "table",
        "status": "failed",
        "latency_ms": Decimal("12.5"),
        "reason": "ResourceNotFoundException",
    }
    assert "reason" not in item["components"][1]
    assert item["expires_at"] == int((TODAY + timedelta(days=90)).timestamp())


def test_an_unreachable_table_is_the_tables_unavailability(deployment: Deployment) -> None:
    store = ProbeResultStore(aws.table("no-such-table"))

    with pytest.raises(DependencyUnavailableError) as recording:
        store.record(result(datetime.now(UTC)))
    with pytest.raises(DependencyUnavailableError) as reading:
        store.of_day(TODAY.date())

    assert recording.value.component == reading.value.component == "table"
    assert recording.value.reason == reading.value.reason == "ResourceNotFoundException"
