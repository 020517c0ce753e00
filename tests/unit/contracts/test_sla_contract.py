"""The request tallies' contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.sla import RequestTalliesContract
from tests.fakes.sla import FakeTallyStore


class TestFakeTallyStoreContract(RequestTalliesContract):
    implementation = FakeTallyStore

    @pytest.fixture
    def tallies(self) -> FakeTallyStore:
        return FakeTallyStore()
