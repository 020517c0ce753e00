"""The identity services wired to this deployment's table and secret, built once per container.

Handlers call these instead of constructing stores themselves, so no handler touches boto3 and every function
of a container shares one verifier cache, one signing-key cache and one revocation cache.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from firstmile.config import get_settings
from firstmile.platform import aws

# Each service's modules are imported when it is first built: a function loads what its requests use, not the token
# verifier and every identity store with it (decision 0045).
if TYPE_CHECKING:
    from firstmile.audit.store import AuditStore
    from firstmile.identity.keys import RotationPolicy
    from firstmile.identity.keystore import SecretsManagerKeyStore
    from firstmile.identity.revocation import RevocationCache
    from firstmile.identity.sessions import SessionService
    from firstmile.identity.store import IdentityStore
    from firstmile.identity.tenancy import TenancyService
    from firstmile.identity.tokens import Verifier
    from firstmile.limits.logic import RateLimiter


@lru_cache(maxsize=1)
def identity_store() -> IdentityStore:
    """Tenants, clients, sessions and revocations in the main table."""
    from firstmile.identity.store import IdentityStore

    return IdentityStore(aws.table(get_settings().table_name), audit=audit_store())


@lru_cache(maxsize=1)
def audit_store() -> AuditStore:
    """The per-tenant audit chains in the main table."""
    from firstmile.audit.store import AuditStore

    return AuditStore(aws.table(get_settings().table_name))


@lru_cache(maxsize=1)
def rate_limiter() -> RateLimiter:
    """Fixed-window limits with the deployment's overrides."""
    from firstmile.limits.logic import RateLimiter, rules_with_overrides
    from firstmile.limits.store import RateLimitStore

    settings = get_settings()
    return RateLimiter(
        RateLimitStore(aws.table(settings.table_name)), rules=rules_with_overrides(settings.rate_limit_overrides)
    )


@lru_cache(maxsize=1)
def signing_key_store() -> SecretsManagerKeyStore:
    """The private signing keys in Secrets Manager."""
    from firstmile.identity.keystore import SecretsManagerKeyStore

    return SecretsManagerKeyStore(get_settings().signing_keys_secret)


@lru_cache(maxsize=1)
def session_service() -> SessionService:
    """Mints, rotates and revokes sessions."""
    from firstmile.identity.keystore import SigningKeyProvider
    from firstmile.identity.sessions import SessionPolicy, SessionService

    settings = get_settings()
    provider = SigningKeyProvider(signing_key_store().load)
    return SessionService(
        identity_store(),
        signing_key=provider.current,
        policy=SessionPolicy.from_settings(settings),
        limiter=rate_limiter(),
    )


@lru_cache(maxsize=1)
def tenancy_service() -> TenancyService:
    """Creates tenants and API clients."""
    from firstmile.identity.tenancy import TenancyService

    return TenancyService(identity_store(), secret_grace_seconds=get_settings().client_secret_grace_seconds)


@lru_cache(maxsize=1)
def token_verifier() -> Verifier:
    """Verifies access tokens against the published keys (cached, bounded refetch on an unknown kid)."""
    from firstmile.identity.authorizer import verifier_for

    return verifier_for(get_settings(), identity_store())


@lru_cache(maxsize=1)
def revocation_cache() -> RevocationCache:
    """Users' revocations, cached for the stated revocation bound."""
    from firstmile.identity.authorizer import revocations_for

    return revocations_for(get_settings(), identity_store())


def rotation_policy() -> RotationPolicy:
    """When keys are published, promoted and retired."""
    from firstmile.identity.keys import RotationPolicy

    return RotationPolicy.from_settings(get_settings())


def reset_identity_runtime() -> None:
    """Forget every cached service (tests change the environment between cases)."""
    for cached in (
        identity_store,
        audit_store,
        rate_limiter,
        signing_key_store,
        session_service,
        tenancy_service,
        token_verifier,
        revocation_cache,
    ):
        cached.cache_clear()
