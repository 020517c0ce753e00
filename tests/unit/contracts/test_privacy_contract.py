"""The consent and policy stores' contracts, on the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.contracts.privacy import ConsentStoreContract, PolicyStoreContract
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import FakeConsentStore, FakePolicyStore


class TestFakeConsentStoreContract(ConsentStoreContract):
    implementation = FakeConsentStore

    @pytest.fixture
    def onboarding(self, audit_log: FakeAuditLog) -> FakeOnboardingStore:
        return FakeOnboardingStore(audit=audit_log)

    @pytest.fixture
    def consents(self, onboarding: FakeOnboardingStore) -> FakeConsentStore:
        return FakeConsentStore(onboarding)


class TestFakePolicyStoreContract(PolicyStoreContract):
    implementation = FakePolicyStore

    @pytest.fixture
    def policies(self, audit_log: FakeAuditLog) -> FakePolicyStore:
        return FakePolicyStore(audit=audit_log)
