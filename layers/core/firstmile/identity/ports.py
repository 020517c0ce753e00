"""What the identity services need of storage, as protocols: ``IdentityStore`` (the table) and
``SecretsManagerKeyStore`` (the signing-key secret) implement them, and so do the unit tests' in-memory fakes. Each
pair passes the same contract suite (tests/contracts/identity.py)."""

from __future__ import annotations

from typing import Any, Protocol

from firstmile.audit.models import AuditEvent
from firstmile.identity.keys import KeySet
from firstmile.identity.models import ApiClient, Family, RefreshPointer, Revocations, Tenant
from firstmile.platform.cursors import DEFAULT_LIMIT, Page


class IdentityStorePort(Protocol):
    """Tenants, API clients, sessions (refresh-token families), revocations and the published keys. Audited changes
    append their ``event`` together with the change: both are stored or neither."""

    def record_event(self, event: AuditEvent) -> None:
        """Append ``event``, which records something that changed nothing here."""
        ...

    def create_tenant(self, tenant: Tenant, *, event: AuditEvent) -> Tenant:
        """Store a new tenant with ``event``; ``AlreadyExistsError`` when the id is taken."""
        ...

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant, if it exists."""
        ...

    def create_client(self, client: ApiClient, *, event: AuditEvent) -> ApiClient:
        """Store a new API client with ``event``; ``AlreadyExistsError`` when the id is taken."""
        ...

    def get_client(self, client_id: str) -> ApiClient | None:
        """The client as stored now (a disabled client must be refused at once)."""
        ...

    def list_clients(self, tenant_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page[ApiClient]:
        """One page of a tenant's clients, oldest first."""
        ...

    def replace_client(self, before: ApiClient, after: ApiClient, *, event: AuditEvent) -> ApiClient:
        """Write ``after`` over ``before`` with ``event``; ``VersionConflictError`` when the secret changed meanwhile
        or the client was disabled."""
        ...

    def disable_client(self, client_id: str, now: float, *, event: AuditEvent) -> ApiClient | None:
        """Disable the client (idempotent: the first ``disabled_at`` stays) with ``event``; ``None`` (and no entry)
        when there is no such client."""
        ...

    def start_family(self, family: Family) -> None:
        """Store a new family and the pointer of its first refresh token, together."""
        ...

    def find_pointer(self, token_hash: str) -> RefreshPointer | None:
        """Which family the token hashing to ``token_hash`` belongs to (any token ever issued, until expiry)."""
        ...

    def get_family(self, tenant: str, user: str, family_id: str) -> Family | None:
        """The family as stored now."""
        ...

    def list_families(self, tenant: str, user: str) -> list[Family]:
        """Every family of a user, revoked and expired ones included."""
        ...

    def rotate_family(self, before: Family, after: Family, now: float) -> bool:
        """Swap the current token for ``after.current_hash`` and add its pointer, atomically, only while
        ``before.current_hash`` is current and the family alive and unrevoked; ``False`` when it lost."""
        ...

    def revoke_family(
        self,
        tenant: str,
        user: str,
        family_id: str,
        *,
        now: float,
        reason: str,
        access_ttl_seconds: int,
        event: AuditEvent | None = None,
    ) -> Family | None:
        """Revoke one session and its access tokens (with ``event`` when given); the family as it is now, ``None``
        when it does not exist (its access tokens are revoked anyway)."""
        ...

    def revoke_user(
        self, tenant: str, user: str, *, now: float, access_ttl_seconds: int, reason: str, event: AuditEvent
    ) -> list[str]:
        """Sign the user out everywhere (every token issued until ``now``, every session); the sessions revoked."""
        ...

    def revoke_token(self, tenant: str, user: str, jti: str, expires_at: float) -> None:
        """Revoke one access token until it would have expired anyway."""
        ...

    def revocations(self, tenant: str, user: str, now: float) -> Revocations:
        """Every revocation of a user still in force at ``now``."""
        ...

    def delete_user_sessions(self, tenant: str, user: str) -> int:
        """Erase a user's sessions and refresh pointers; how many records went. Their revocations stay until they
        expire: they are what refuses access tokens issued before."""
        ...

    def published_jwks(self) -> tuple[dict[str, Any], int]:
        """The JWKS verifiers use, and its version (0 before the first publication)."""
        ...

    def publish_jwks(self, jwks: dict[str, Any], expected_version: int) -> int:
        """Replace the JWKS if it is still at ``expected_version`` (``VersionConflictError`` otherwise); the new
        version."""
        ...


class SigningKeySecret(Protocol):
    """Where the private signing keys are kept."""

    def load(self) -> KeySet:
        """The stored key set; empty before the first one."""
        ...

    def save(self, keyset: KeySet) -> None:
        """Store ``keyset`` as the current one."""
        ...
