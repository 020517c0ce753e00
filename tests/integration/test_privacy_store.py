"""The consent store against the table engine: the contract, with the onboarding store whose progress it marks."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.audit.store import AuditStore
from firstmile.onboarding.store import OnboardingStore
from firstmile.privacy.consent_store import ConsentStore
from firstmile.privacy.policy_store import PolicyStore
from tests.contracts.privacy import ConsentStoreContract, PolicyStoreContract


class TestConsentStoreContract(ConsentStoreContract):
    """The consent store's contract, on the table engine."""

    implementation = ConsentStore

    @pytest.fixture
    def onboarding(self, table: Any) -> OnboardingStore:
        return OnboardingStore(table)

    @pytest.fixture
    def consents(self, table: Any) -> ConsentStore:
        return ConsentStore(table)


class TestPolicyStoreContract(PolicyStoreContract):
    """The policy store's contract, on the table engine."""

    implementation = PolicyStore

    @pytest.fixture
    def policies(self, table: Any, audit_log: AuditStore) -> PolicyStore:
        return PolicyStore(table, audit=audit_log)
