"""What every contract asks of a list that clients page through with a cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from firstmile import errors as e
from firstmile.platform.cursors import Page

T = TypeVar("T")


def every_page(list_page: Callable[..., Page[T]]) -> list[Page[T]]:
    """The pages of a list (``list_page(cursor=...)``): the first, then one per cursor, to the one without a next."""
    pages = [list_page(cursor=None)]
    while pages[-1].next_cursor:
        pages.append(list_page(cursor=pages[-1].next_cursor))
    return pages


def assert_cursor_refused(list_page: Callable[..., Any], cursor: str | None) -> None:
    """``list_page(cursor=...)`` refuses ``cursor``, one of another list, as VAL_CURSOR_INVALID."""
    with pytest.raises(e.DomainError) as refused:
        list_page(cursor=cursor)
    assert refused.value.code == e.VAL_CURSOR_INVALID
