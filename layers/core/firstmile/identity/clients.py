"""API clients: ids, secrets, how a presented secret is checked, and secret rotation, as pure functions.

A client id is ``fmc_`` + 128 random bits, a secret ``fms_`` + 256 random bits (both base64url). Only the secret's
SHA-256 is stored: a secret with 256 bits of entropy cannot be guessed from its hash, so a slow password hash would
add latency to every token request and no protection. Comparisons are constant-time, and an unknown client costs
the same work as a known one. After a rotation the previous secret keeps working for a grace period, so the
customer can roll the new secret out without downtime.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

from firstmile import errors as e
from firstmile.identity.keys import b64url
from firstmile.identity.models import CLIENT_ID_PATTERN, ApiClient
from firstmile.roles import SessionRole

CLIENT_ID_PREFIX = "fmc_"
CLIENT_SECRET_PREFIX = "fms_"  # noqa: S105 - a prefix, not a secret
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)
_CLIENT_SECRET = re.compile(r"^fms_[A-Za-z0-9_-]{43}$")
# Compared against when the client is unknown, so timing does not tell known ids from unknown ones.
_NO_SECRET_HASH = hashlib.sha256(b"no client has this secret").hexdigest()


def new_client_id() -> str:
    """A fresh client id."""
    return CLIENT_ID_PREFIX + b64url(secrets.token_bytes(16))


def new_client_secret() -> str:
    """A fresh client secret (256 random bits); show it once, store only ``hash_secret(secret)``."""
    return CLIENT_SECRET_PREFIX + b64url(secrets.token_bytes(32))


def looks_like_client_id(value: str) -> bool:
    """Whether ``value`` has the shape of a client id (checked before any lookup)."""
    return bool(_CLIENT_ID.match(value))


def hash_secret(secret: str) -> str:
    """The SHA-256 (hex) under which a client secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(client: ApiClient | None, presented: str, now: float) -> bool:
    """Whether ``presented`` is the client's secret, or its previous secret within the grace period.

    Both comparisons always run, in constant time; a missing client is compared against a hash nobody has.
    """
    shaped = bool(_CLIENT_SECRET.match(presented))
    presented_hash = hash_secret(presented)
    current = client.secret_hash if client else _NO_SECRET_HASH
    previous = (client.previous_secret_hash if client else None) or _NO_SECRET_HASH
    previous_valid = (
        client is not None
        and client.previous_secret_hash is not None
        and (client.previous_secret_expires_at or 0) > now
    )
    hit_current = hmac.compare_digest(presented_hash, current)
    hit_previous = hmac.compare_digest(presented_hash, previous)
    return client is not None and shaped and (hit_current or (previous_valid and hit_previous))


def authenticate(client: ApiClient | None, presented_secret: str, now: float) -> ApiClient:
    """The client, when it exists, is enabled and ``presented_secret`` is valid; ``AUTH_CLIENT_INVALID`` otherwise.

    The answer is the same whichever check failed.
    """
    matched = secret_matches(client, presented_secret, now)
    if client is None or client.disabled or not matched:
        raise e.DomainError(e.AUTH_CLIENT_INVALID, "The client credentials are not valid.")
    return client


def check_roles(client: ApiClient, requested: tuple[SessionRole, ...]) -> None:
    """Refuse roles the client may not grant (``PERM_ROLE_NOT_ALLOWED``)."""
    refused = sorted(set(requested) - set(client.allowed_roles))
    if refused:
        raise e.DomainError(e.PERM_ROLE_NOT_ALLOWED, f"This client may not grant the role(s): {', '.join(refused)}.")


def with_rotated_secret(client: ApiClient, new_hash: str, now: float, grace_seconds: float) -> ApiClient:
    """The client after its secret was replaced: the old secret stays valid for ``grace_seconds``."""
    return client.model_copy(
        update={
            "secret_hash": new_hash,
            "previous_secret_hash": client.secret_hash if grace_seconds > 0 else None,
            "previous_secret_expires_at": now + grace_seconds if grace_seconds > 0 else None,
            "secret_rotated_at": now,
        }
    )


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from an ``Authorization: Basic ...`` header, if it carries them."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded or len(encoded) > 512:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep and client_id and secret else None
