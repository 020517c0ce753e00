"""The onboarding store's contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.onboarding import OnboardingStoreContract
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore


class TestFakeOnboardingStoreContract(OnboardingStoreContract):
    implementation = FakeOnboardingStore

    @pytest.fixture
    def store(self, audit_log: FakeAuditLog) -> FakeOnboardingStore:
        return FakeOnboardingStore(event_retention_days=30, audit=audit_log)
