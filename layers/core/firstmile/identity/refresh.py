"""Refresh tokens and the rules of their families, as pure functions.

A refresh token is ``fmr_`` + base64url of 32 random bytes (256 bits); only its SHA-256 is stored. The tokens of
one session form a family: every use rotates (the presented token becomes the family's ``previous``, a new one its
``current``). What presenting a token means is decided by ``classify``:

- the family's current token, family alive: ``ROTATED`` (the caller may rotate);
- the immediate predecessor within the overlap window: ``SUPERSEDED`` (a client that lost a race; it should use
  the token the winning response carried; nothing is revoked);
- any other token of the family, or the predecessor after the window: ``REUSE_DETECTED`` (revoke the family);
- a revoked family: ``REVOKED``; past its absolute or idle expiry: ``EXPIRED``.

Rotation never extends the family's absolute expiry; the idle expiry moves to ``now + idle_timeout`` but never
beyond the absolute one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from firstmile.config import Settings
from firstmile.identity.keys import b64url
from firstmile.identity.models import Family
from firstmile.roles import SessionRole

REFRESH_TOKEN_PREFIX = "fmr_"  # noqa: S105 - a prefix, not a token
FAMILY_ID_PREFIX = "ses_"
_REFRESH_TOKEN = re.compile(r"^fmr_[A-Za-z0-9_-]{43}$")


class RefreshOutcome(StrEnum):
    """What presenting a refresh token to its family amounts to."""

    ROTATED = "rotated"
    SUPERSEDED = "superseded"
    REUSE_DETECTED = "reuse_detected"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class FamilyPolicy:
    """How long families live and how long a just-rotated token is forgiven."""

    absolute_lifetime_seconds: float = 30 * 24 * 3600
    idle_timeout_seconds: float = 7 * 24 * 3600
    overlap_seconds: float = 5

    def __post_init__(self) -> None:
        if not 0 <= self.overlap_seconds <= 10:
            raise ValueError("the overlap window is at most 10 seconds")

    @classmethod
    def from_settings(cls, settings: Settings) -> FamilyPolicy:
        """The policy a deployment's settings describe."""
        return cls(
            absolute_lifetime_seconds=settings.refresh_absolute_lifetime_seconds,
            idle_timeout_seconds=settings.refresh_idle_timeout_seconds,
            overlap_seconds=settings.refresh_overlap_seconds,
        )


def new_refresh_token() -> str:
    """A fresh refresh token: 256 random bits."""
    return REFRESH_TOKEN_PREFIX + b64url(secrets.token_bytes(32))


def looks_like_refresh_token(token: str) -> bool:
    """Whether ``token`` has the shape of a refresh token (checked before hashing or any lookup)."""
    return bool(_REFRESH_TOKEN.match(token))


def hash_refresh_token(token: str) -> str:
    """The SHA-256 (hex) under which a refresh token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_family_id() -> str:
    """A fresh session id (``sid``): 128 random bits."""
    return FAMILY_ID_PREFIX + b64url(secrets.token_bytes(16))


def start_family(
    *,
    tenant: str,
    user: str,
    client_id: str,
    roles: Iterable[SessionRole],
    attributes: Mapping[str, str],
    token_hash: str,
    now: float,
    policy: FamilyPolicy,
    family_id: str | None = None,
) -> Family:
    """A new family whose current token hashes to ``token_hash``."""
    absolute = now + policy.absolute_lifetime_seconds
    return Family(
        family_id=family_id or new_family_id(),
        tenant=tenant,
        user=user,
        client_id=client_id,
        roles=tuple(sorted(set(roles))),
        attributes=dict(attributes),
        current_hash=token_hash,
        created_at=now,
        absolute_expires_at=absolute,
        idle_expires_at=min(now + policy.idle_timeout_seconds, absolute),
    )


def is_expired(family: Family, now: float) -> bool:
    """Whether the family has passed its absolute or its idle expiry."""
    return now >= family.absolute_expires_at or now >= family.idle_expires_at


def classify(family: Family, presented_hash: str, now: float, policy: FamilyPolicy) -> RefreshOutcome:
    """What presenting the token hashing to ``presented_hash`` (a token of this family) means at ``now``."""
    if family.revoked:
        return RefreshOutcome.REVOKED
    if is_expired(family, now):
        return RefreshOutcome.EXPIRED
    if presented_hash == family.current_hash:
        return RefreshOutcome.ROTATED
    if (
        presented_hash == family.previous_hash
        and family.previous_rotated_at is not None
        and now - family.previous_rotated_at <= policy.overlap_seconds
    ):
        return RefreshOutcome.SUPERSEDED
    return RefreshOutcome.REUSE_DETECTED


def rotate(family: Family, new_hash: str, now: float, policy: FamilyPolicy) -> Family:
    """The family after its current token was exchanged for the token hashing to ``new_hash``."""
    if classify(family, family.current_hash, now, policy) is not RefreshOutcome.ROTATED:
        raise ValueError("only a live family rotates")
    return family.model_copy(
        update={
            "current_hash": new_hash,
            "previous_hash": family.current_hash,
            "previous_rotated_at": now,
            "generation": family.generation + 1,
            "idle_expires_at": min(now + policy.idle_timeout_seconds, family.absolute_expires_at),
        }
    )


def revoke(family: Family, now: float, reason: str) -> Family:
    """The family after revocation (revoking twice keeps the first time and reason)."""
    if family.revoked:
        return family
    return family.model_copy(update={"revoked": True, "revoked_at": now, "revoked_reason": reason})


def refresh_token_expiry(family: Family) -> float:
    """When the family's current token stops working unless it is used: the earlier of its two expiries."""
    return min(family.absolute_expires_at, family.idle_expires_at)
