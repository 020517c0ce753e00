"""The consent store's contract, on the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.contracts.privacy import ConsentStoreContract
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import FakeConsentStore


class TestFakeConsentStoreContract(ConsentStoreContract):
    implementation = FakeConsentStore

    @pytest.fixture
    def onboarding(self, audit_log: FakeAuditLog) -> FakeOnboardingStore:
        return FakeOnboardingStore(audit=audit_log)

    @pytest.fixture
    def consents(self, onboarding: FakeOnboardingStore) -> FakeConsentStore:
        return FakeConsentStore(onboarding)
