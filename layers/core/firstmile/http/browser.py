"""Browser mode: the refresh token lives in a ``__Host-`` cookie the page's scripts cannot read.

The cookie is ``HttpOnly; Secure; SameSite=Strict; Path=/`` with no ``Domain`` (what the ``__Host-`` prefix
demands). Because a cookie is sent by the browser on its own, a refresh that uses it must prove it comes from the
customer's front end: the ``Origin`` must be on the allow-list and the request must carry a custom header
(``X-Requested-With``), which a cross-site form cannot send and a cross-site script can only send after a CORS
preflight that the allow-list refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from firstmile import errors as e
from firstmile.http import problems as p
from firstmile.http.headers import header

REFRESH_COOKIE = "__Host-fm_refresh"
CSRF_HEADER = "X-Requested-With"


@dataclass(frozen=True)
class PresentedRefreshToken:
    """The refresh token of a request, and whether the answer should go back as a cookie."""

    token: str
    browser_mode: bool


def refresh_cookie(token: str, max_age_seconds: int) -> str:
    """The ``Set-Cookie`` value that stores ``token`` for ``max_age_seconds``."""
    return f"{REFRESH_COOKIE}={token}; Max-Age={max(0, max_age_seconds)}; Path=/; Secure; HttpOnly; SameSite=Strict"


def cleared_refresh_cookie() -> str:
    """The ``Set-Cookie`` value that removes the refresh cookie (logout, revoked session)."""
    return f"{REFRESH_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"


def refresh_token_from_cookies(cookies: Sequence[str] | None) -> str | None:
    """The refresh token among API Gateway's ``cookies`` (each ``name=value``, possibly ``;``-joined)."""
    for entry in cookies or ():
        for part in entry.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == REFRESH_COOKIE and value:
                return value
    return None


def check_csrf(headers: Mapping[str, str] | None, allowed_origins: Iterable[str]) -> None:
    """Refuse a cookie-authenticated request that does not come from an allowed origin with the custom header."""
    origin = header(headers, "origin")
    if not origin or origin not in set(allowed_origins):
        raise p.Problem(e.PERM_CSRF_REJECTED, "The request's Origin is not allowed to use the session cookie.")
    if not (header(headers, CSRF_HEADER) or "").strip():
        raise p.Problem(e.PERM_CSRF_REJECTED, f"Requests that use the session cookie must send {CSRF_HEADER}.")


def presented_refresh_token(
    body_token: str | None,
    delivery: str,
    cookies: Sequence[str] | None,
    headers: Mapping[str, str] | None,
    allowed_origins: Iterable[str],
) -> PresentedRefreshToken:
    """Which refresh token a ``refresh_token`` grant presents, applying the CSRF defence when it is the cookie.

    A token in the body wins (native apps, the customer's backend, and a browser's first hand-over with
    ``delivery = "cookie"``, which still needs an allowed origin). Without one, the cookie is used.
    """
    if body_token:
        if delivery == "cookie":
            check_csrf(headers, allowed_origins)
        return PresentedRefreshToken(body_token, browser_mode=delivery == "cookie")
    from_cookie = refresh_token_from_cookies(cookies)
    if from_cookie is None:
        raise p.Problem(e.AUTH_REFRESH_MISSING, "Send the refresh token in the body or in the session cookie.")
    check_csrf(headers, allowed_origins)
    return PresentedRefreshToken(from_cookie, browser_mode=True)
