"""Cursor pagination: ``limit`` and ``cursor`` in, ``items`` and ``next_cursor`` out; never offsets.

A cursor is DynamoDB's ``LastEvaluatedKey`` wrapped with the partition it belongs to, base64url encoded.
It is opaque to clients; a cursor replayed against another list (another tenant's, another user's) is refused,
because the partition it names must equal the partition being listed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from firstmile.http import problems as p

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
_MAX_CURSOR_LENGTH = 2048


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; absent at the end")


def encode_cursor(last_key: dict[str, Any] | None, partition: str) -> str | None:
    """The cursor for the page after ``last_key`` of the list in ``partition`` (``None`` at the end)."""
    if not last_key:
        return None
    raw = json.dumps({"p": partition, "k": last_key}, separators=(",", ":"), sort_keys=True, default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, partition: str, *, key_partition: str | None = None) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` a cursor stands for; refuses cursors that are malformed or from another list.

    ``partition`` is the list's scope as it was encoded; ``key_partition``, when given, is the partition-key value
    being queried, which the start key must hold (a forged key pointing elsewhere is refused here rather than by
    DynamoDB).
    """
    if not cursor:
        return None
    refusal = p.Problem(p.VAL_CURSOR_INVALID, "The cursor is not one this list returned.")
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise refusal
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
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
