"""The consent store against the table engine: the contract, with the onboarding store whose progress it marks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from firstmile.audit.store import AuditStore
from firstmile.identifiers import user_partition
from firstmile.onboarding.store import OnboardingStore
from firstmile.privacy.consent_store import ConsentStore
from firstmile.privacy.policy_store import PolicyStore
from firstmile.privacy.request_store import RequestStore
from firstmile.privacy.retention import RetentionStore, retention_entry
from firstmile.privacy.user_data import UserPartition
from tests.contracts.onboarding import TENANT
from tests.contracts.privacy import (
    ConsentStoreContract,
    DueWriter,
    ItemWriter,
    PolicyStoreContract,
    RequestStoreContract,
    RetentionStoreContract,
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


class TestRetentionStoreContract(RetentionStoreContract):
    """The retention index, on the table engine."""

    implementation = RetentionStore

    @pytest.fixture
    def retention(self, table: Any) -> RetentionStore:
        return RetentionStore(table)

    @pytest.fixture
    def put_due(self, table: Any) -> DueWriter:
        def put(key: dict[str, str], kind: str, due: date) -> None:
            table.put_item(Item={**key, "kind": kind})
            table.put_item(Item=retention_entry(key, kind, due))

        return put

    @pytest.fixture
    def exists(self, table: Any) -> Callable[[dict[str, str]], bool]:
        return lambda key: "Item" in table.get_item(Key=key)
