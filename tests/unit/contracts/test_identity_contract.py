"""The identity store's and the signing-key secret's contracts, on the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.contracts.identity import IdentityStoreContract, SigningKeySecretContract
from tests.fakes.audit import FakeAuditLog
from tests.fakes.identity import FakeIdentityStore, FakeSigningKeySecret


class TestFakeIdentityStoreContract(IdentityStoreContract):
    implementation = FakeIdentityStore

    @pytest.fixture
    def identity_store(self, audit_log: FakeAuditLog) -> FakeIdentityStore:
        return FakeIdentityStore(audit=audit_log)


class TestFakeSigningKeySecretContract(SigningKeySecretContract):
    implementation = FakeSigningKeySecret

    @pytest.fixture
    def key_secret(self) -> FakeSigningKeySecret:
        return FakeSigningKeySecret()
