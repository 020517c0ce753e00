"""The headers Firstmile's routes read and answer, as the OpenAPI document declares them.

Routes name the ones they use next to their declaration (``problem_responses(..., ok_headers=...)`` and
``request_headers(...)``); what every route answers (``X-Correlation-Id``; ``WWW-Authenticate`` on 401,
``Retry-After`` and the ``RateLimit-*`` headers on 429, ...) is added when the document is merged
(``local/openapi.py``), where the catalogue says which routes are rate-limited or need a token.
"""

from __future__ import annotations

from typing import Any

REQUEST_HEADERS_EXTENSION = "x-firstmile-request-headers"
FORM_SCHEMA_EXTENSION = "x-firstmile-form-schema"

_TEXT = {"type": "string"}
_SECONDS = {"type": "string", "pattern": r"^\d+$"}

REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "If-Match": {
        "description": 'The ETag the change was made on, e.g. "v3" (or * for whatever is current): 409 with the '
        "current state when it changed since",
        "schema": {**_TEXT, "maxLength": 64},
    },
    "Sec-GPC": {
        "description": "Global Privacy Control: 1 withdraws analytics and marketing, whatever the body says of them",
        "schema": {"type": "string", "enum": ["1"]},
    },
    "Idempotency-Key": {
        "description": "1-255 visible ASCII characters; a retry with the same key and body returns the first answer",
        "schema": {**_TEXT, "maxLength": 255},
    },
    "X-Correlation-Id": {
        "description": "Echoed on the answer and put on every log line; generated when absent or malformed",
        "schema": {**_TEXT, "maxLength": 128},
    },
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The version of the answered resource, e.g. "v3"; send it back as If-Match',
        "schema": _TEXT,
    },
    "Location": {"description": "Where the created resource lives", "schema": _TEXT},
    "Idempotent-Replayed": {
        "description": "true when this is the stored first answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "X-Correlation-Id": {"description": "The request's correlation id (echoed or generated)", "schema": _TEXT},
    "WWW-Authenticate": {"description": "The authentication scheme the route expects", "schema": _TEXT},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": _SECONDS},
    "RateLimit-Limit": {"description": "Requests allowed in the current window", "schema": _SECONDS},
    "RateLimit-Remaining": {"description": "Requests left in the current window", "schema": _SECONDS},
    "RateLimit-Reset": {"description": "Seconds until the current window ends", "schema": _SECONDS},
    "Accept-Post": {"description": "The media types this route reads", "schema": _TEXT},
    "Age": {"description": "Seconds since the answered figures were read (RFC 9111)", "schema": _SECONDS},
    "Cache-Control": {"description": "How long the answer may be reused (max-age, in seconds)", "schema": _TEXT},
}

RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def response_headers(*names: str) -> dict[str, dict[str, Any]]:
    """The OpenAPI ``headers`` of a response that carries ``names``."""
    return {name: dict(RESPONSE_HEADERS[name]) for name in names}


def request_headers(*names: str, form_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The route's ``openapi_extensions``: the request headers it reads (and, for a route that also reads
    ``application/x-www-form-urlencoded``, the form's schema); the merge turns them into standard OpenAPI."""
    unknown = set(names) - set(REQUEST_HEADERS)
    if unknown:
        raise ValueError(f"undocumented request headers: {sorted(unknown)}")
    extensions: dict[str, Any] = {REQUEST_HEADERS_EXTENSION: list(names)}
    if form_schema is not None:
        extensions[FORM_SCHEMA_EXTENSION] = form_schema
    return extensions
