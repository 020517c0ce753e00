"""The consent store against the table engine: the contract, with the onboarding store whose progress it marks."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.onboarding.store import OnboardingStore
from firstmile.privacy.consent_store import ConsentStore
from tests.contracts.privacy import ConsentStoreContract


class TestConsentStoreContract(ConsentStoreContract):
    """The consent store's contract, on the table engine."""

    implementation = ConsentStore

    @pytest.fixture
    def onboarding(self, table: Any) -> OnboardingStore:
        return OnboardingStore(table)

    @pytest.fixture
    def consents(self, table: Any) -> ConsentStore:
        return ConsentStore(table)
