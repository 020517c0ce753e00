"""What the Lambda authorizer does with a request, in one call, and its HTTP API simple response.

The authorizer function builds a ``Verifier`` and a ``RevocationCache`` once per container (``verifier_for`` and
``revocations_for``), then answers each request with ``simple_response(authorize(...))``. It needs read access to
the table only: the published public keys and the users' revocations.
"""

from __future__ import annotations

import time
from typing import Any

from firstmile.config import Settings
from firstmile.identity.models import AccessClaims, Clock
from firstmile.identity.ports import IdentityStorePort
from firstmile.identity.revocation import RevocationCache
from firstmile.identity.tokens import Verifier, authorizer_context, bearer_token, public_keys_from_jwks


def verifier_for(settings: Settings, store: IdentityStorePort, *, clock: Clock = time.time) -> Verifier:
    """A verifier of this deployment's access tokens, reading the public keys the rotation job published."""
    return Verifier(
        issuer=settings.issuer,
        audience=settings.audience,
        load_keys=lambda: public_keys_from_jwks(store.published_jwks()[0]),
        clock=clock,
    )


def revocations_for(settings: Settings, store: IdentityStorePort, *, clock: Clock = time.time) -> RevocationCache:
    """Users' revocations, cached for ``settings.revocation_cache_seconds`` (the stated revocation bound)."""
    return RevocationCache(
        lambda tenant, user: store.revocations(tenant, user, clock()),
        ttl_seconds=settings.revocation_cache_seconds,
        clock=clock,
    )


def authorize(authorization: str | None, *, verifier: Verifier, revocations: RevocationCache) -> AccessClaims:
    """The verified, unrevoked claims of the request's bearer token; ``TokenRejected`` otherwise."""
    return revocations.check(verifier.verify(bearer_token(authorization)))


def simple_response(claims: AccessClaims | None) -> dict[str, Any]:
    """The HTTP API authorizer answer (payload 2.0, simple responses): allowed with the caller's context, or not."""
    if claims is None:
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": authorizer_context(claims)}


def optional_claims(
    authorization: str | None, *, verifier: Verifier, revocations: RevocationCache
) -> AccessClaims | None:
    """The caller's verified claims on a public route that shows more to some callers; ``None`` for anyone else.

    Public routes have no authorizer in front of them, so a route like ``GET /health`` verifies an offered token
    itself. A missing, refused or uncheckable token simply means an anonymous caller.
    """
    if not authorization:
        return None
    try:
        return authorize(authorization, verifier=verifier, revocations=revocations)
    except Exception:  # anything but a verified token is an anonymous caller here
        return None
