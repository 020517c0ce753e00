"""The funnel counters' and the alert rules' contracts, on the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.contracts.analytics import AlertRuleStoreContract, FakeOnlyFunnelCountersContract, FunnelCountersContract
from tests.fakes.analytics import FakeAlertRuleStore, FakeFunnelCounterStore
from tests.fakes.audit import FakeAuditLog


class TestFakeFunnelCounterStoreContract(FunnelCountersContract, FakeOnlyFunnelCountersContract):
    implementation = FakeFunnelCounterStore

    @pytest.fixture
    def counters(self) -> FakeFunnelCounterStore:
        return FakeFunnelCounterStore()


class TestFakeAlertRuleStoreContract(AlertRuleStoreContract):
    implementation = FakeAlertRuleStore

    @pytest.fixture
    def rules(self, audit_log: FakeAuditLog) -> FakeAlertRuleStore:
        return FakeAlertRuleStore(audit=audit_log)
