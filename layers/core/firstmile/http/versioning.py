"""Optimistic concurrency over HTTP: ``ETag`` out, ``If-Match`` in."""

from __future__ import annotations

import re

from firstmile.http import problems as p

_ETAG = re.compile(r'^(?:W/)?"v(\d{1,18})"$')


def etag_for(version: int) -> str:
    """The strong entity tag of a resource at ``version``."""
    return f'"v{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version a client expects, from its ``If-Match`` header.

    ``None`` when the header is absent or ``*`` (the write then retries on conflict); a malformed value is
    refused rather than ignored, so a client never overwrites by accident.
    """
    if value is None or value.strip() in ("", "*"):
        return None
    match = _ETAG.match(value.strip())
    if not match:
        raise p.Problem(p.VAL_IF_MATCH_INVALID, 'If-Match must be an ETag this API returned, like "v3".')
    return int(match.group(1))
