"""Signing keys: ES256 (ECDSA P-256) keys, their public JWKs, and the rotation state machine.

A key moves ``next -> current -> previous -> retired``:

- ``next`` is published in the JWKS but signs nothing, for at least ``publish_ahead`` (default one hour), so every
  verifier has it cached before the first token it signs arrives;
- ``current`` signs every new access token; there is exactly one;
- ``previous`` signs nothing but stays published until every token it signed has expired: the longest access-token
  lifetime, plus clock skew, plus how long a signer may keep using a cached key set;
- ``retired`` keys are dropped from the key set (and from the secret) altogether.

The state machine is pure: ``advance`` takes the key set, the time and the kids the JWKS already publishes, and
returns the next key set with what happened. The key id (``kid``) is the key's RFC 7638 JWK thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ConfigDict, SecretStr

from firstmile.config import Settings
from firstmile.model import Model

ALGORITHM = "ES256"
CURVE = "P-256"
# An RFC 7638 thumbprint with SHA-256 is 32 bytes: 43 base64url characters without padding.
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Signers re-read the key set at most this often; a demoted key may still sign for this long.
SIGNER_CACHE_SECONDS = 60
CLOCK_SKEW_SECONDS = 60
SECRET_FORMAT = 1

KeyState = Literal["next", "current", "previous"]
KeyEventKind = Literal["created", "published", "activated", "deactivated", "retired"]


class InvalidJwkError(ValueError):
    """A JWK that is not an ES256 public key of ours."""


class SigningKey(Model):
    """One key pair with its place in the rotation. The private half never leaves the secret and the signer."""

    model_config = ConfigDict(frozen=True)

    kid: str
    state: KeyState
    private_pem: SecretStr
    public_jwk: dict[str, str]
    created_at: float
    published_at: float
    activated_at: float | None = None
    deactivated_at: float | None = None

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The private key, for signing."""
        key = serialization.load_pem_private_key(self.private_pem.get_secret_value().encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"signing key {self.kid} is not a P-256 key")
        return key


class KeySet(Model):
    """Every key not yet retired: at most one per state."""

    model_config = ConfigDict(frozen=True)

    keys: tuple[SigningKey, ...] = ()

    def in_state(self, state: KeyState) -> SigningKey | None:
        """The key in ``state``, if any."""
        return next((k for k in self.keys if k.state == state), None)

    @property
    def current(self) -> SigningKey | None:
        return self.in_state("current")


class KeyEvent(Model):
    """Something ``advance`` did to one key, for logs and the audit trail."""

    model_config = ConfigDict(frozen=True)

    kid: str
    event: KeyEventKind
    at: float


@dataclass(frozen=True)
class RotationPolicy:
    """When keys move on."""

    rotate_every_seconds: float = 30 * 24 * 3600
    publish_ahead_seconds: float = 3600
    # The longest access-token lifetime + clock skew + how long a signer may cache the key set.
    retire_after_seconds: float = 900 + CLOCK_SKEW_SECONDS + SIGNER_CACHE_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> RotationPolicy:
        """The policy a deployment's settings describe."""
        return cls(
            rotate_every_seconds=settings.key_rotation_days * 24 * 3600,
            publish_ahead_seconds=settings.key_publish_ahead_seconds,
            retire_after_seconds=settings.access_token_ttl_seconds + CLOCK_SKEW_SECONDS + SIGNER_CACHE_SECONDS,
        )


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of unpadded base64url ``text``; raises ``ValueError`` when it is not base64url."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of an EC public JWK: SHA-256 of its required members in canonical JSON."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK of a P-256 key, with its thumbprint as ``kid``."""
    numbers = public_key.public_numbers()
    jwk = {
        "kty": "EC",
        "crv": CURVE,
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }
    return {**jwk, "kid": jwk_thumbprint(jwk), "use": "sig", "alg": ALGORITHM}


def public_key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """The public key a JWK describes; refuses anything but a P-256 ES256 key whose ``kid`` is its thumbprint."""
    try:
        if jwk.get("kty") != "EC" or jwk.get("crv") != CURVE or jwk.get("alg", ALGORITHM) != ALGORITHM:
            raise InvalidJwkError("not an ES256 P-256 key")
        x, y = b64url_decode(str(jwk["x"])), b64url_decode(str(jwk["y"]))
        if len(x) != 32 or len(y) != 32:
            raise InvalidJwkError("coordinates are not 32 bytes")
        if jwk.get("kid") != jwk_thumbprint(jwk):
            raise InvalidJwkError("kid is not the key's thumbprint")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1())
        return numbers.public_key()
    except InvalidJwkError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidJwkError(type(exc).__name__) from None


def generate_signing_key(now: float, state: KeyState = "next") -> SigningKey:
    """A new P-256 key pair, published as of ``now`` (and active as of ``now`` when created ``current``)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    jwk = public_jwk(private_key.public_key())
    return SigningKey(
        kid=jwk["kid"],
        state=state,
        private_pem=SecretStr(pem),
        public_jwk=jwk,
        created_at=now,
        published_at=now,
        activated_at=now if state == "current" else None,
    )


def advance(
    keyset: KeySet,
    now: float,
    policy: RotationPolicy,
    published_kids: Iterable[str] | None = None,
    *,
    rotate_now: bool = False,
) -> tuple[KeySet, list[KeyEvent]]:
    """One step of the rotation state machine at ``now``.

    ``published_kids`` are the kids the published JWKS holds right now (``None``: assume every key is published).
    A ``next`` key missing from it counts as published only from ``now`` on, so a failed publication can never let
    an unpublished key sign. ``rotate_now`` starts a rotation early (a ``next`` key is created if there is none);
    it never skips the publish-ahead wait.
    """
    keys: dict[KeyState, SigningKey] = {k.state: k for k in keyset.keys}
    published = {k.kid for k in keyset.keys} if published_kids is None else set(published_kids)
    events: list[KeyEvent] = []

    previous = keys.get("previous")
    if previous is not None and now >= (previous.deactivated_at or now) + policy.retire_after_seconds:
        del keys["previous"]
        events.append(KeyEvent(kid=previous.kid, event="retired", at=now))

    upcoming = keys.get("next")
    if upcoming is not None and upcoming.kid not in published:
        upcoming = keys["next"] = upcoming.model_copy(update={"published_at": now})
        events.append(KeyEvent(kid=upcoming.kid, event="published", at=now))

    current = keys.get("current")
    if current is None:
        # A new deployment (or a key set edited by hand): something must sign. Nothing has been issued yet, and
        # verifiers refetch the JWKS once when they meet an unknown kid.
        if upcoming is not None:
            keys["current"] = upcoming.model_copy(update={"state": "current", "activated_at": now})
            del keys["next"]
        else:
            keys["current"] = generate_signing_key(now, "current")
            events.append(KeyEvent(kid=keys["current"].kid, event="created", at=now))
        events.append(KeyEvent(kid=keys["current"].kid, event="activated", at=now))
    elif (
        upcoming is not None
        and upcoming.kid in published
        and now >= upcoming.published_at + policy.publish_ahead_seconds
        and "previous" not in keys
    ):
        keys["previous"] = current.model_copy(update={"state": "previous", "deactivated_at": now})
        keys["current"] = upcoming.model_copy(update={"state": "current", "activated_at": now})
        del keys["next"]
        events.append(KeyEvent(kid=current.kid, event="deactivated", at=now))
        events.append(KeyEvent(kid=upcoming.kid, event="activated", at=now))

    current = keys["current"]
    due = now >= (current.activated_at or current.created_at) + policy.rotate_every_seconds
    if "next" not in keys and (rotate_now or due):
        keys["next"] = generate_signing_key(now, "next")
        events.append(KeyEvent(kid=keys["next"].kid, event="created", at=now))

    order: tuple[KeyState, ...] = ("current", "next", "previous")
    return KeySet(keys=tuple(keys[s] for s in order if s in keys)), events


def jwks_document(keyset: KeySet) -> dict[str, list[dict[str, str]]]:
    """The public JWKS: current, next and previous keys (never a private member)."""
    order: tuple[KeyState, ...] = ("current", "next", "previous")
    published = [k for state in order for k in keyset.keys if k.state == state]
    return {"keys": [dict(k.public_jwk) for k in published]}


def keyset_to_secret(keyset: KeySet) -> str:
    """The key set as the JSON document kept in the Secrets Manager secret."""
    return json.dumps(
        {
            "format": SECRET_FORMAT,
            "keys": [
                {
                    "kid": k.kid,
                    "state": k.state,
                    "private_pem": k.private_pem.get_secret_value(),
                    "created_at": k.created_at,
                    "published_at": k.published_at,
                    "activated_at": k.activated_at,
                    "deactivated_at": k.deactivated_at,
                }
                for k in keyset.keys
            ],
        },
        separators=(",", ":"),
    )


def keyset_from_secret(text: str) -> KeySet:
    """The key set in a secret's JSON document; the public halves are derived again and checked against the kids.

    Raises ``ValueError`` when the document is not a key set (for instance a random value a deployment tool put
    there when it created the secret).
    """
    document = json.loads(text)
    if not isinstance(document, dict) or document.get("format") != SECRET_FORMAT:
        raise ValueError("not a Firstmile signing-key document")
    keys = []
    for entry in document.get("keys", []):
        pem = SecretStr(str(entry["private_pem"]))
        probe = SigningKey(
            kid=str(entry["kid"]), state=entry["state"], private_pem=pem, public_jwk={}, created_at=0, published_at=0
        )
        jwk = public_jwk(probe.private_key().public_key())
        if jwk["kid"] != probe.kid:
            raise ValueError(f"key {probe.kid} does not match its private key")
        keys.append(
            SigningKey(
                kid=probe.kid,
                state=probe.state,
                private_pem=pem,
                public_jwk=jwk,
                created_at=float(entry["created_at"]),
                published_at=float(entry["published_at"]),
                activated_at=entry.get("activated_at"),
                deactivated_at=entry.get("deactivated_at"),
            )
        )
    if len({k.state for k in keys}) != len(keys):
        raise ValueError("two keys share a state")
    return KeySet(keys=tuple(keys))
