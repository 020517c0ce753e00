"""Headers every response carries: correlation id, security headers, CORS for allowed origins."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping

CORRELATION_HEADER = "X-Correlation-Id"
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

SECURITY_HEADERS: dict[str, str] = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# Responses are personal unless a route says otherwise by setting its own Cache-Control.
DEFAULT_CACHE_CONTROL = "no-store"

CORS_ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Correlation-Id",
    "X-Requested-With",
)
CORS_EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Correlation-Id",
    "Idempotent-Replayed",
)
CORS_MAX_AGE_SECONDS = 600


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway lower-cases names, local tools may not)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def correlation_id_from(headers: Mapping[str, str] | None) -> str:
    """The caller's correlation id when it is well formed, otherwise a new one."""
    given = header(headers, CORRELATION_HEADER)
    if given and _CORRELATION_ID.match(given):
        return given
    return str(uuid.uuid4())


def cors_headers(origin: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """CORS response headers for ``origin`` when it is on the allow-list, else none."""
    if not origin or origin not in set(allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": ", ".join(CORS_EXPOSE_HEADERS),
        "Vary": "Origin",
    }


def preflight_headers(origin: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """Headers answering a CORS preflight from ``origin`` (empty when the origin is not allowed)."""
    base = cors_headers(origin, allowed)
    if not base:
        return {}
    return base | {
        "Access-Control-Allow-Methods": ", ".join(CORS_ALLOW_METHODS),
        "Access-Control-Allow-Headers": ", ".join(CORS_ALLOW_HEADERS),
        "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
    }


def etag_for(version: int) -> str:
    """The strong entity tag of a resource at ``version``."""
    return f'"v{version}"'


def rate_limit_headers(
    limit: int, remaining: int, reset_seconds: int, retry_after_seconds: int | None = None
) -> dict[str, str]:
    """``RateLimit-Limit``, ``-Remaining``, ``-Reset`` (delta seconds), and ``Retry-After`` when refused."""
    headers = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset_seconds),
    }
    if retry_after_seconds is not None:
        headers["Retry-After"] = str(retry_after_seconds)
    return headers
