"""Cursor pagination over HTTP: the ``limit`` and ``cursor`` query parameters every list route reads.

The page, its size limits and the signed cursor itself are the platform's (``firstmile.platform.cursors``).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile.platform.cursors import MAX_CURSOR_LENGTH, MAX_LIMIT

PageLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
"""How many items a page may hold at most (``limit``); pair it with the default ``DEFAULT_LIMIT``."""

PageCursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)]
"""Where the page starts (``cursor``): the ``next_cursor`` of the page before; absent for the first page."""
