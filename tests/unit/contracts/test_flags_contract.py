"""The flag store's contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.flags import FlagStoreContract
from tests.fakes.audit import FakeAuditLog
from tests.fakes.flags import FakeFlagStore


class TestFakeFlagStoreContract(FlagStoreContract):
    implementation = FakeFlagStore

    @pytest.fixture
    def store(self, audit_log: FakeAuditLog) -> FakeFlagStore:
        return FakeFlagStore(audit=audit_log)
