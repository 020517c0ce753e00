"""Browser mode: the refresh cookie's attributes and the CSRF defence on cookie-authenticated refreshes."""

from __future__ import annotations

import pytest

from firstmile.http import browser
from firstmile.http import problems as p

ALLOWED = ("https://app.example.com",)
GOOD_HEADERS = {"Origin": "https://app.example.com", "X-Requested-With": "XMLHttpRequest"}


def test_the_cookie_is_host_prefixed_httponly_secure_strict_and_site_wide() -> None:
    cookie = browser.refresh_cookie("fmr_token", 3600)

    name, _, rest = cookie.partition("=")
    attributes = {part.strip().split("=")[0] for part in rest.split(";")[1:]}
    assert name == "__Host-fm_refresh"
    assert {"Secure", "HttpOnly", "SameSite", "Path", "Max-Age"} <= attributes
    assert "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert "Max-Age=0" in browser.cleared_refresh_cookie()


def test_the_refresh_token_is_found_among_the_cookies() -> None:
    cookies = ["theme=dark", "__Host-fm_refresh=fmr_abc; other=1"]

    assert browser.refresh_token_from_cookies(cookies) == "fmr_abc"
    assert browser.refresh_token_from_cookies(["fm_refresh=fmr_abc"]) is None
    assert browser.refresh_token_from_cookies(None) is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Requested-With": "XMLHttpRequest"},
        {"Origin": "https://evil.example", "X-Requested-With": "XMLHttpRequest"},
        {"Origin": "null", "X-Requested-With": "XMLHttpRequest"},
        {"Origin": "https://app.example.com"},
        {"Origin": "https://app.example.com", "X-Requested-With": "  "},
    ],
)
def test_a_cookie_refresh_without_an_allowed_origin_and_the_custom_header_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(p.Problem) as refused:
        browser.presented_refresh_token(None, "body", ["__Host-fm_refresh=fmr_abc"], headers, ALLOWED)

    assert refused.value.error is p.PERM_CSRF_REJECTED
    assert refused.value.error.status == 403


def test_a_cookie_refresh_from_the_front_end_passes_in_browser_mode() -> None:
    presented = browser.presented_refresh_token(None, "body", ["__Host-fm_refresh=fmr_abc"], GOOD_HEADERS, ALLOWED)

    assert presented == browser.PresentedRefreshToken("fmr_abc", browser_mode=True)


def test_a_token_in_the_body_needs_no_origin_unless_it_asks_for_the_cookie() -> None:
    assert browser.presented_refresh_token("fmr_body", "body", None, {}, ALLOWED).browser_mode is False
    with pytest.raises(p.Problem):
        browser.presented_refresh_token("fmr_body", "cookie", None, {}, ALLOWED)
    handed_over = browser.presented_refresh_token("fmr_body", "cookie", None, GOOD_HEADERS, ALLOWED)
    assert handed_over == browser.PresentedRefreshToken("fmr_body", browser_mode=True)


def test_no_token_anywhere_is_an_authentication_problem() -> None:
    with pytest.raises(p.Problem) as refused:
        browser.presented_refresh_token(None, "body", [], GOOD_HEADERS, ALLOWED)

    assert refused.value.error.status == 401
