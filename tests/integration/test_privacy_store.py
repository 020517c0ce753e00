"""The consent store against the table engine: the contract, with the onboarding store whose progress it marks."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.audit.store import AuditStore
from firstmile.identity.store import user_partition
from firstmile.onboarding.store import OnboardingStore
from firstmile.privacy.consent_store import ConsentStore
from firstmile.privacy.policy_store import PolicyStore
from firstmile.privacy.request_store import RequestStore
from firstmile.privacy.user_data import UserPartition
from tests.contracts.onboarding import TENANT
from tests.contracts.privacy import (
    ConsentStoreContract,
    ItemWriter,
    PolicyStoreContract,
    RequestStoreContract,
    UserPartitionContract,
)


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


class TestRequestStoreContract(RequestStoreContract):
    """The request store's contract, on the table engine."""

    implementation = RequestStore

    @pytest.fixture
    def requests(self, table: Any, audit_log: AuditStore) -> RequestStore:
        return RequestStore(table, audit=audit_log)


class TestUserPartitionContract(UserPartitionContract):
    """A user's partition, on the table engine."""

    implementation = UserPartition

    @pytest.fixture
    def partition(self, table: Any) -> UserPartition:
        return UserPartition(table)

    @pytest.fixture
    def put_item(self, table: Any) -> ItemWriter:
        return lambda user, sk, item: table.put_item(Item={"pk": user_partition(TENANT, user), "sk": sk, **item})
