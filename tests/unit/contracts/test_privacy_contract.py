"""The privacy stores' contracts, on the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

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
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import (
    FakeConsentStore,
    FakePolicyStore,
    FakeRequestStore,
    FakeRetentionStore,
    FakeUserPartition,
)


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


class TestFakeRequestStoreContract(RequestStoreContract):
    implementation = FakeRequestStore

    @pytest.fixture
    def requests(self, audit_log: FakeAuditLog) -> FakeRequestStore:
        return FakeRequestStore(audit=audit_log)


class TestFakeUserPartitionContract(UserPartitionContract):
    implementation = FakeUserPartition

    @pytest.fixture
    def partition(self) -> FakeUserPartition:
        return FakeUserPartition()

    @pytest.fixture
    def put_item(self, partition: FakeUserPartition) -> ItemWriter:
        return lambda user, sk, item: partition.add(TENANT, user, sk, item)


class TestFakeRetentionStoreContract(RetentionStoreContract):
    implementation = FakeRetentionStore

    @pytest.fixture
    def retention(self) -> FakeRetentionStore:
        return FakeRetentionStore()

    @pytest.fixture
    def put_due(self, retention: FakeRetentionStore) -> DueWriter:
        def put(key: dict[str, str], kind: str, due: date) -> None:
            retention.items[(key["pk"], key["sk"])] = {"kind": kind}
            retention.add(key, kind, due)

        return put

    @pytest.fixture
    def exists(self, retention: FakeRetentionStore) -> Callable[[dict[str, str]], bool]:
        return lambda key: (key["pk"], key["sk"]) in retention.items
