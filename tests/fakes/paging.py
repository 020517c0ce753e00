"""Cursor pages over a fake's sorted items, with the real cursor codec: a cursor of another list is refused the
same way (VAL_CURSOR_INVALID) as the stores refuse it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from firstmile.platform.cursors import MAX_LIMIT, decode_cursor, encode_cursor

T = TypeVar("T")


def page_of(
    items: Sequence[T],
    sort_key: Callable[[T], str],
    *,
    scope: str,
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """One page of ``items`` (in list order: ascending by ``sort_key``, or descending) after the cursor's
    position, and the cursor of the next page (``None`` after the last). The fakes never answer the empty last page
    the real stores may, so callers follow ``next_cursor`` until ``None`` either way."""
    start = decode_cursor(cursor, scope, key_partition=scope)
    after = start["k"] if start else None
    position = 0
    if after is not None:
        position = next(
            (n for n, item in enumerate(items) if (sort_key(item) < after if descending else sort_key(item) > after)),
            len(items),
        )
    size = max(1, min(limit, MAX_LIMIT))
    chosen = list(items[position : position + size])
    more = position + size < len(items)
    next_cursor = encode_cursor({"list": scope, "k": sort_key(chosen[-1])}, scope) if more and chosen else None
    return chosen, next_cursor
