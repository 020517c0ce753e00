"""The funnel counters' contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.analytics import FakeOnlyFunnelCountersContract, FunnelCountersContract
from tests.fakes.analytics import FakeFunnelCounterStore


class TestFakeFunnelCounterStoreContract(FunnelCountersContract, FakeOnlyFunnelCountersContract):
    implementation = FakeFunnelCounterStore

    @pytest.fixture
    def counters(self) -> FakeFunnelCounterStore:
        return FakeFunnelCounterStore()
