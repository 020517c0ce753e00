"""Cursor pagination: a ``Page`` of items and the cursor of the next one; never offsets.

A cursor is DynamoDB's ``LastEvaluatedKey`` wrapped with the partition it belongs to, base64url encoded, and signed
with the deployment's cursor key (HMAC-SHA256, ``Settings.cursor_key``; docs/decisions/0041-signed-cursors.md).
It is opaque to clients: a cursor that was altered or made by hand is refused before anything reads it, and a
genuine cursor replayed against another list (another tenant's, another user's) is refused too, because the
partition it names must equal the partition being listed. A refused cursor is ``VAL_CURSOR_INVALID``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any, Generic, TypeVar

from pydantic import Field

from firstmile import errors as e
from firstmile.config import get_settings
from firstmile.model import Model

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 2048


class Page(Model, Generic[T]):
    """One page of a list."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; absent at the end")


def encode_cursor(last_key: dict[str, Any] | None, partition: str) -> str | None:
    """The cursor for the page after ``last_key`` of the list in ``partition`` (``None`` at the end)."""
    if not last_key:
        return None
    raw = json.dumps({"p": partition, "k": last_key}, separators=(",", ":"), sort_keys=True, default=str)
    payload = _b64(raw.encode())
    return f"{payload}.{_signature(payload)}"


def decode_cursor(cursor: str | None, partition: str, *, key_partition: str | None = None) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` a cursor stands for; refuses cursors that are malformed or from another list.

    ``partition`` is the list's scope as it was encoded; ``key_partition``, when given, is the partition-key value
    being queried, which the start key must hold (a forged key pointing elsewhere is refused here rather than by
    DynamoDB).
    """
    if not cursor:
        return None
    refusal = e.DomainError(e.VAL_CURSOR_INVALID, "The cursor is not one this list returned.")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise refusal
    payload, _, signature = cursor.rpartition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _signature(payload).encode()):
        raise refusal
    try:
        padded = payload + "=" * (-len(payload) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise refusal from None
    if not isinstance(data, dict) or data.get("p") != partition or not isinstance(data.get("k"), dict):
        raise refusal
    key: dict[str, Any] = data["k"]
    if not all(isinstance(v, (str, int)) for v in key.values()):
        raise refusal
    if key_partition is not None and key_partition not in key.values():
        raise refusal
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _signature(payload: str) -> str:
    return _b64(hmac.new(_cursor_key(), payload.encode(), hashlib.sha256).digest())


# Signs cursors when the deployment configured no key (a unit test, a misconfigured function): cursors then work
# within one process and are refused by any other, which fails safe.
_PROCESS_KEY = secrets.token_bytes(32)


def _cursor_key() -> bytes:
    """The deployment's cursor key (``FIRSTMILE_CURSOR_KEY``), else this process's own."""
    try:
        configured = get_settings().cursor_key
    except Exception:  # an invalid configuration is reported by /health/startup, not by a list
        configured = None
    return configured.get_secret_value().encode() if configured is not None else _PROCESS_KEY
