"""Access tokens: minting (ES256 JWTs with ``kid``) and verifying them the way an attacker cannot bend.

The verifier decides before it touches a key: the token's size, its shape, its header (``alg`` must be ES256,
``typ`` must be ``at+jwt``) and the format of its ``kid`` (an RFC 7638 thumbprint) are checked first. Only then is
the key looked up, in an in-memory cache that is refetched at most once per ``refetch_interval`` when an unknown
kid turns up. The signature, issuer and audience are verified by PyJWT with the algorithm pinned; the times are
checked against the injected clock (60 s leeway for ``nbf`` and ``iat``, none for ``exp``).

Each rejection carries a distinct ``RejectionReason`` (for logs and metrics) and maps to an ``AUTH_*`` code (for
the client, which learns no more than the code).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from firstmile import errors as e
from firstmile.identity.keys import (
    ALGORITHM,
    KID_PATTERN,
    InvalidJwkError,
    SigningKey,
    b64url,
    b64url_decode,
    public_key_from_jwk,
)
from firstmile.identity.models import AccessClaims, Clock
from firstmile.observability import logger
from firstmile.roles import SessionRole

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the RFC 9068 media type
MAX_TOKEN_BYTES = 4096
MAX_HEADER_CHARS = 512
LEEWAY_SECONDS = 60
MAX_ACCESS_TOKEN_LIFETIME_SECONDS = 900
REQUIRED_CLAIMS = ("iss", "aud", "sub", "tenant", "roles", "jti", "sid", "iat", "nbf", "exp")
_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class RejectionReason(StrEnum):
    """Why a token was refused: one value per kind of attack or defect."""

    MISSING = "missing"
    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    WRONG_TYPE = "wrong_type"
    KID_INVALID = "kid_invalid"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    CLAIMS_INVALID = "claims_invalid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    REVOKED = "revoked"


_CODES: dict[RejectionReason, str] = {
    RejectionReason.MISSING: e.AUTH_UNAUTHENTICATED,
    RejectionReason.OVERSIZED: e.AUTH_TOKEN_MALFORMED,
    RejectionReason.MALFORMED: e.AUTH_TOKEN_MALFORMED,
    RejectionReason.EXPIRED: e.AUTH_TOKEN_EXPIRED,
    RejectionReason.REVOKED: e.AUTH_TOKEN_REVOKED,
}
_DETAILS: dict[str, str] = {
    e.AUTH_UNAUTHENTICATED: "Send an access token as 'Authorization: Bearer <token>'.",
    e.AUTH_TOKEN_MALFORMED: "The access token is not a well-formed JWT.",
    e.AUTH_TOKEN_INVALID: "The access token was not issued by this deployment for this API, or was altered.",
    e.AUTH_TOKEN_EXPIRED: "The access token has expired; refresh the session.",
    e.AUTH_TOKEN_REVOKED: "The access token was revoked; sign in again.",
}


class TokenRejected(e.DomainError):  # noqa: N818 - a verdict on a token, not a fault of the code
    """A token the verifier refuses: ``reason`` says which check failed (for logs and metrics), the ``code`` and a
    fixed ``detail`` are all the caller learns."""

    def __init__(self, reason: RejectionReason) -> None:
        code = _CODES.get(reason, e.AUTH_TOKEN_INVALID)
        super().__init__(code, _DETAILS[code])
        self.args = (reason.value,)
        self.reason = reason


# --- minting ---------------------------------------------------------------------------------------------------


def new_token_id() -> str:
    """A fresh ``jti``: 128 random bits."""
    return b64url(secrets.token_bytes(16))


def access_claims(
    *,
    issuer: str,
    audience: str,
    tenant: str,
    subject: str,
    roles: Iterable[SessionRole],
    attributes: Mapping[str, str],
    session_id: str,
    now: float,
    ttl_seconds: int,
) -> AccessClaims:
    """The claims of a new access token, valid from ``now`` for ``ttl_seconds`` (at most 15 minutes)."""
    if not 0 < ttl_seconds <= MAX_ACCESS_TOKEN_LIFETIME_SECONDS:
        raise ValueError(f"access tokens live at most {MAX_ACCESS_TOKEN_LIFETIME_SECONDS} seconds")
    issued = int(now)
    return AccessClaims(
        iss=issuer,
        aud=audience,
        sub=subject,
        tenant=tenant,
        roles=tuple(sorted(set(roles))),
        attributes=dict(attributes),
        jti=new_token_id(),
        sid=session_id,
        iat=issued,
        nbf=issued,
        exp=issued + ttl_seconds,
    )


def sign_access_token(claims: AccessClaims, key: SigningKey) -> str:
    """The compact JWS of ``claims`` signed with ``key`` (ES256, ``kid`` and ``typ`` in the header)."""
    if key.state != "current":
        raise ValueError("only the current key signs")
    return jwt.encode(
        claims.model_dump(mode="json"),
        key.private_key(),
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": TOKEN_TYPE},
    )


# --- verifying --------------------------------------------------------------------------------------------------

PublicKeys = Mapping[str, ec.EllipticCurvePublicKey]
KeyLoader = Callable[[], PublicKeys]


def public_keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """The usable keys of a JWKS document, by kid; keys that are not ours (wrong type, wrong kid) are skipped."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in jwks.get("keys", []):
        try:
            keys[str(jwk["kid"])] = public_key_from_jwk(jwk)
        except (InvalidJwkError, KeyError, TypeError):
            logger.warning("skipping an unusable key of the published JWKS")
    return keys


class Verifier:
    """Verifies access tokens against the published keys, cached in memory.

    The cache is refreshed after ``cache_seconds``; an unknown kid triggers one refetch, at most once per
    ``refetch_interval_seconds``, so a flood of tokens with made-up kids cannot turn into a flood of key reads.
    When a refresh fails the cached keys keep serving; with no keys at all, verification fails as unavailable.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        load_keys: KeyLoader,
        clock: Clock = time.time,
        cache_seconds: float = 300,
        refetch_interval_seconds: float = 30,
        leeway_seconds: int = LEEWAY_SECONDS,
        max_token_bytes: int = MAX_TOKEN_BYTES,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._load_keys = load_keys
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._refetch_interval = refetch_interval_seconds
        self._leeway = leeway_seconds
        self._max_bytes = max_token_bytes
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; raises ``TokenRejected`` with the reason otherwise."""
        header = self._screen(token)
        key = self._key_for(header["kid"])
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": True,
                    # Times are checked below against the injected clock, with leeway for nbf and iat only.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected(RejectionReason.BAD_SIGNATURE) from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(RejectionReason.WRONG_AUDIENCE) from None
        except jwt.InvalidIssuerError:
            raise TokenRejected(RejectionReason.WRONG_ISSUER) from None
        except jwt.InvalidAlgorithmError:
            raise TokenRejected(RejectionReason.ALGORITHM_NOT_ALLOWED) from None
        except jwt.DecodeError:
            raise TokenRejected(RejectionReason.MALFORMED) from None
        except jwt.InvalidTokenError:
            raise TokenRejected(RejectionReason.CLAIMS_INVALID) from None
        return self._check_claims(payload)

    def _screen(self, token: str) -> dict[str, Any]:
        """Everything decided from the token alone, before any key is looked up."""
        if not token:
            raise TokenRejected(RejectionReason.MISSING)
        if len(token) > self._max_bytes or len(token.encode("utf-8")) > self._max_bytes:
            raise TokenRejected(RejectionReason.OVERSIZED)
        if not _SHAPE.match(token):
            raise TokenRejected(RejectionReason.MALFORMED)
        header_segment, _, signature = token.split(".")
        if len(header_segment) > MAX_HEADER_CHARS:
            raise TokenRejected(RejectionReason.MALFORMED)
        try:
            header = json.loads(b64url_decode(header_segment))
        except (ValueError, TypeError, UnicodeDecodeError):
            raise TokenRejected(RejectionReason.MALFORMED) from None
        if not isinstance(header, dict):
            raise TokenRejected(RejectionReason.MALFORMED)
        alg = header.get("alg")
        if isinstance(alg, str) and alg.lower() == "none":
            raise TokenRejected(RejectionReason.UNSIGNED)
        if alg != ALGORITHM:
            raise TokenRejected(RejectionReason.ALGORITHM_NOT_ALLOWED)
        if not signature:
            raise TokenRejected(RejectionReason.UNSIGNED)
        if header.get("typ") != TOKEN_TYPE or "crit" in header:
            raise TokenRejected(RejectionReason.WRONG_TYPE)
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID_PATTERN.match(kid):
            raise TokenRejected(RejectionReason.KID_INVALID)
        return header

    def _check_claims(self, payload: dict[str, Any]) -> AccessClaims:
        times = [payload.get(name) for name in ("iat", "nbf", "exp")]
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in times):
            raise TokenRejected(RejectionReason.CLAIMS_INVALID)
        try:
            claims = AccessClaims.model_validate(payload)
        except ValidationError:
            raise TokenRejected(RejectionReason.CLAIMS_INVALID) from None
        now = self._clock()
        if claims.exp - claims.iat > MAX_ACCESS_TOKEN_LIFETIME_SECONDS or claims.exp <= claims.nbf:
            raise TokenRejected(RejectionReason.CLAIMS_INVALID)
        if claims.exp <= now:
            raise TokenRejected(RejectionReason.EXPIRED)
        if claims.nbf > now + self._leeway:
            raise TokenRejected(RejectionReason.NOT_YET_VALID)
        if claims.iat > now + self._leeway:
            raise TokenRejected(RejectionReason.ISSUED_IN_FUTURE)
        return claims

    def _key_for(self, kid: str) -> ec.EllipticCurvePublicKey:
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._cache_seconds:
                self._refresh(now)
            key = self._keys.get(kid)
            if key is None and self._fetched_at is not None and now - self._fetched_at >= self._refetch_interval:
                self._refresh(now)
                key = self._keys.get(kid)
        if key is None:
            raise TokenRejected(RejectionReason.UNKNOWN_KID)
        return key

    def _refresh(self, now: float) -> None:
        try:
            keys = dict(self._load_keys())
        except Exception as exc:  # any failure of the key source: keep what we have, if anything
            if not self._keys:
                raise e.DependencyUnavailableError("signing keys", type(exc).__name__) from exc
            logger.warning("could not refresh the published keys; using the cached ones")
            self._fetched_at = now
            return
        self._keys, self._fetched_at = keys, now


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; ``MISSING`` or ``MALFORMED`` otherwise."""
    if not authorization or not authorization.strip():
        raise TokenRejected(RejectionReason.MISSING)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected(RejectionReason.MALFORMED)
    return token.strip()


def authorizer_context(claims: AccessClaims) -> dict[str, str]:
    """The Lambda authorizer's simple-response context for a verified token.

    the HTTP layer's ``auth_from_event`` reads exactly these keys on the function side.
    """
    return {
        "tenant": claims.tenant,
        "sub": claims.sub,
        "roles": ",".join(claims.roles),
        "attributes": json.dumps(claims.attributes, separators=(",", ":"), sort_keys=True),
        "sid": claims.sid,
        "jti": claims.jti,
        "exp": str(claims.exp),
    }
