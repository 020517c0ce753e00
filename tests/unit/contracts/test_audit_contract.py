"""The audit log's contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.audit import AuditLogContract
from tests.factories import FakeClock
from tests.fakes.audit import FakeAuditLog


class TestFakeAuditLogContract(AuditLogContract):
    implementation = FakeAuditLog

    @pytest.fixture
    def audit_log(self, clock: FakeClock) -> FakeAuditLog:
        return FakeAuditLog(clock=clock)
