"""Optimistic concurrency over HTTP: ``ETag`` out, ``If-Match`` in."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel

from firstmile import errors as e
from firstmile.http import problems as p
from firstmile.http.headers import etag_for, header

_ETAG = re.compile(r'^(?:W/)?"v(\d{1,18})"$')


def parse_if_match(value: str | None) -> int | None:
    """The version a client expects, from its ``If-Match`` header.

    ``None`` when the header is absent or ``*`` (the write then retries on conflict); a malformed value is
    refused rather than ignored, so a client never overwrites by accident.
    """
    if value is None or value.strip() in ("", "*"):
        return None
    match = _ETAG.match(value.strip())
    if not match:
        raise p.Problem(e.VAL_IF_MATCH_INVALID, 'If-Match must be an ETag this API returned, like "v3".')
    return int(match.group(1))


def expected_version(app: APIGatewayHttpResolver) -> int | None:
    """The version the client expects, from the request's ``If-Match``; ``None`` when absent or ``*``."""
    return parse_if_match(header(app.current_event.headers, "If-Match"))


def required_version(app: APIGatewayHttpResolver, what: str) -> int:
    """The version a change is made on, from the request's ``If-Match``; ``RES_PRECONDITION_REQUIRED`` (428)
    without one (or with ``*``), so that a client cannot overwrite a concurrent change without having seen it."""
    expected = expected_version(app)
    if expected is None:
        raise p.Problem(
            e.RES_PRECONDITION_REQUIRED,
            f'Send If-Match with the {what}\'s ETag (like "v3") so that a concurrent change is not overwritten.',
        )
    return expected


def versioned_response(model: BaseModel, version: int, status_code: int = 200) -> Response[Any]:
    """``model`` as JSON with the strong ``ETag`` of ``version``."""
    return Response(status_code, "application/json", model.model_dump(mode="json"), headers={"ETag": etag_for(version)})
