"""The restore drills' store contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.backups import DrillStoreContract
from tests.fakes.backups import FakeDrillStore


class TestFakeDrillStoreContract(DrillStoreContract):
    implementation = FakeDrillStore

    @pytest.fixture
    def drills(self) -> FakeDrillStore:
        return FakeDrillStore()
