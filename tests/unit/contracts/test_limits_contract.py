"""The rate-limit counters' contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.limits import RateCounterContract
from tests.fakes.limits import FakeRateLimitStore


class TestFakeRateLimitStoreContract(RateCounterContract):
    implementation = FakeRateLimitStore

    @pytest.fixture
    def counter(self) -> FakeRateLimitStore:
        return FakeRateLimitStore()
