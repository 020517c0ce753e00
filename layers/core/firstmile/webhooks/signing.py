"""Signing deliveries the Standard Webhooks way (https://www.standardwebhooks.com, decision 0093).

A delivery carries three headers: ``webhook-id`` (the message's id, the same on every retry of it),
``webhook-timestamp`` (Unix seconds when it was sent) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of
``<id>.<timestamp>.<body>`` under the endpoint's secret, space-separated when more than one secret signs. Secrets are
``whsec_`` and 32 random bytes in base64. While a rotated-out secret is still in its grace period both sign, so a
receiver verifies with either. A receiver refuses a timestamp more than ``TOLERANCE_SECONDS`` away (a replay of an
old delivery) and a signature that matches no secret it holds (an altered body, id or timestamp).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random_bytes
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
"""How far a delivery's timestamp may be from the receiver's clock (the Standard Webhooks libraries' default)."""

ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "webhook-id", "webhook-timestamp", "webhook-signature"


class SignatureError(ValueError):
    """A delivery whose headers, timestamp or signature do not verify."""


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random_bytes.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError as exc:
        raise SignatureError("a signing secret is whsec_ and base64") from exc


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``."""
    digest = hmac.new(_key(secret), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a delivery signed with every one of ``secrets`` (the current one first)."""
    if not secrets:
        raise SignatureError("a delivery needs at least one secret")
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(signature(s, message_id, timestamp, body) for s in secrets),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS) -> str:
    """The delivery's id when ``headers`` and ``body`` verify under ``secret`` at ``now``; ``SignatureError``
    otherwise. (Refusing a delivery id seen before, within the tolerance, is the receiver's part: see
    examples/webhook_receiver.py.)"""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id, stamp, signatures = (lowered.get(h) for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not message_id or not stamp or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not a number") from exc
    if abs(now - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp is too far from now")
    expected = signature(secret, message_id, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures.split(" ")):
        raise SignatureError("no signature matches")
    return message_id
