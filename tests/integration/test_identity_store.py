"""The identity store's and the signing-key secret's contracts, on the table engine and the emulated secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from firstmile.audit.store import AuditStore
from firstmile.identity.keystore import SecretsManagerKeyStore
from firstmile.identity.store import IdentityStore
from firstmile.platform import aws
from tests.contracts.identity import IdentityStoreContract, SigningKeySecretContract
from tests.integration.conftest import Deployment


class TestIdentityStoreContract(IdentityStoreContract):
    implementation = IdentityStore

    @pytest.fixture
    def audit_log(self, deployment: Deployment) -> AuditStore:
        return AuditStore(aws.table(deployment.table_name))

    @pytest.fixture
    def identity_store(self, deployment: Deployment, audit_log: AuditStore) -> IdentityStore:
        return IdentityStore(aws.table(deployment.table_name), audit=audit_log)


class TestSecretsManagerKeyStoreContract(SigningKeySecretContract):
    implementation = SecretsManagerKeyStore

    @pytest.fixture
    def key_secret(self, deployment: Deployment) -> Iterator[SecretsManagerKeyStore]:
        """A secret as CDK creates it: holding a generated random value, not yet a key set."""
        client = deployment.client("secretsmanager")
        name = f"firstmile-signing-keys-{uuid.uuid4().hex[:8]}"
        client.create_secret(Name=name, SecretString="GeneratedRandomPassword-2b8f")
        yield SecretsManagerKeyStore(name, client=client)
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
