"""Funnel counters against the table engine: the contract, and the items a count writes."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.analytics.alert_store import AlertRuleStore
from firstmile.analytics.store import HOUR_RETENTION_DAYS, MARKER_RETENTION_DAYS, FunnelCounterStore
from firstmile.audit.store import AuditStore
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway
from tests.contracts.analytics import NOW, TENANT, AlertRuleStoreContract, FunnelCountersContract, update
from tests.integration.conftest import Deployment


class TestAlertRuleStoreContract(AlertRuleStoreContract):
    """The alert rules' contract, on the table engine."""

    implementation = AlertRuleStore

    @pytest.fixture
    def rules(self, table: Any, audit_log: AuditStore) -> AlertRuleStore:
        return AlertRuleStore(table, audit=audit_log)


class TestFunnelCounterStoreContract(FunnelCountersContract):
    """The funnel counters' contract, on the table engine."""

    implementation = FunnelCounterStore

    @pytest.fixture
    def counters(self, deployment: Deployment) -> FunnelCounterStore:
        return FunnelCounterStore(TableGateway.over_client(aws.dynamodb(), deployment.table_name))


def test_a_count_is_one_transaction_of_its_marker_and_counters_hour_items_expiring(deployment: Deployment) -> None:
    # Given the store over the test's table
    store = FunnelCounterStore(TableGateway.over_client(aws.dynamodb(), deployment.table_name))

    # When an event with a day and an hour update is counted
    store.count(
        TENANT,
        "m-1",
        [update("DAY#2026-12-02", "FLOW", enrolled=1), update("HOUR#2026-12-02T10", "FLOW", enrolled=1)],
        NOW,
    )

    # Then the marker expires after its retention and names no user; the hour item expires, the day item does not
    table = deployment.table
    marker = table.get_item(Key={"pk": f"TENANT#{TENANT}#FUNNELEVENT#m-1", "sk": "MARKER"})["Item"]
    assert marker["kind"] == "funnel_event"
    assert int(marker["expires_at"]) == int(NOW.timestamp()) + MARKER_RETENTION_DAYS * 86_400
    pk = f"TENANT#{TENANT}#FUNNEL#welcome#V#1#SEG#all"
    day = table.get_item(Key={"pk": pk, "sk": "DAY#2026-12-02#STEP#FLOW"})["Item"]
    hour = table.get_item(Key={"pk": pk, "sk": "HOUR#2026-12-02T10#STEP#FLOW"})["Item"]
    assert (day["kind"], day["enrolled"], "expires_at" in day) == ("funnel_counter", 1, False)
    assert int(hour["expires_at"]) == int(NOW.timestamp()) + HOUR_RETENTION_DAYS * 86_400
