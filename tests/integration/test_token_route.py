"""POST /v1/auth/token through its real handler: client credentials, rotation, and browser mode with CSRF."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

from firstmile.composition import container, reset
from firstmile.config import get_settings
from firstmile.identity.models import ApiClientCreate, TenantCreate
from firstmile.limits.logic import RateLimiter, rules_with_overrides, window_start
from firstmile.limits.store import RateLimitStore
from tests.factories import body_of, http_event, load_handler
from tests.integration.conftest import Deployment

APP_ORIGIN = "https://app.example.com"


@pytest.fixture
def token_route(deployment: Deployment, monkeypatch: pytest.MonkeyPatch, lambda_context) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The token function with a signing key, a tenant and an API client in the emulator."""
    secret = f"keys-{deployment.table_name}"
    deployment.client("secretsmanager").create_secret(Name=secret, SecretString="not a key set yet")
    monkeypatch.setenv("FIRSTMILE_SIGNING_KEYS_SECRET", secret)
    monkeypatch.setenv("FIRSTMILE_CORS_ALLOW_ORIGINS", f'["{APP_ORIGIN}"]')
    reset()
    # The limits count per fixed window (five minutes for failures): the test's requests all fall in one, as they
    # would if it ran at once, however long a busy machine takes over them.
    middle = window_start(time.time(), 300) + 150.0
    limits = rules_with_overrides(get_settings().rate_limit_overrides)
    container().rate_limiter = RateLimiter(RateLimitStore(container().table), rules=limits, clock=lambda: middle)
    load_handler("signing_key_rotation").lambda_handler({}, lambda_context)
    container().tenancy_service.create_tenant(TenantCreate(name="Acme", tenant_id="acme"), actor="operator:test")
    issued = container().tenancy_service.create_client("acme", ApiClientCreate(name="backend"), actor="operator:test")
    handler = load_handler("auth_token").lambda_handler
    basic = base64.b64encode(f"{issued.client.client_id}:{issued.client_secret}".encode()).decode()

    def post(body: dict[str, Any], headers: dict[str, str] | None = None, cookies: list[str] | None = None) -> Any:
        event = http_event("POST", "/v1/auth/token", body=body, headers=headers)
        if cookies:
            event["cookies"] = cookies
        return handler(event, lambda_context)

    yield post, {"Authorization": f"Basic {basic}"}
    reset()


def mint(post, basic):  # type: ignore[no-untyped-def]
    response = post({"grant_type": "client_credentials", "user_id": "u-1", "roles": ["user"]}, basic)
    assert response["statusCode"] == 200, response["body"]
    return body_of(response)


def test_client_credentials_mint_and_a_refresh_rotates(token_route) -> None:  # type: ignore[no-untyped-def]
    post, basic = token_route

    session = mint(post, basic)
    rotated = post({"grant_type": "refresh_token", "refresh_token": session["refresh_token"]})

    assert session["token_type"] == "Bearer" and 0 < session["expires_in"] <= 900
    assert rotated["statusCode"] == 200
    assert body_of(rotated)["refresh_token"] != session["refresh_token"]
    assert body_of(rotated)["session_id"] == session["session_id"]


def test_wrong_client_secret_is_refused_with_a_stable_code(token_route) -> None:  # type: ignore[no-untyped-def]
    post, _ = token_route
    wrong = base64.b64encode(b"fmc_AAAAAAAAAAAAAAAAAAAAAA:fms_nope").decode()

    response = post({"grant_type": "client_credentials", "user_id": "u-1"}, {"Authorization": f"Basic {wrong}"})

    assert response["statusCode"] == 401
    assert body_of(response)["code"] == "AUTH_CLIENT_INVALID"


def test_browser_mode_keeps_the_refresh_token_in_a_host_cookie_behind_the_csrf_defence(token_route) -> None:  # type: ignore[no-untyped-def]
    # Given a session handed over to the browser: the token moves into the cookie
    post, basic = token_route
    session = mint(post, basic)
    browser = {"Origin": APP_ORIGIN, "X-Requested-With": "firstmile"}
    handed_over = post(
        {"grant_type": "refresh_token", "refresh_token": session["refresh_token"], "delivery": "cookie"}, browser
    )
    assert handed_over["statusCode"] == 200, handed_over["body"]
    assert body_of(handed_over)["refresh_token"] is None
    (cookie,) = handed_over["cookies"]
    assert cookie.startswith("__Host-fm_refresh=")
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    jar = [cookie.split(";", 1)[0]]

    # When the cookie is presented without the custom header, or from another origin
    no_header = post({"grant_type": "refresh_token"}, {"Origin": APP_ORIGIN}, jar)
    other_origin = post(
        {"grant_type": "refresh_token"}, {"Origin": "https://evil.example", "X-Requested-With": "x"}, jar
    )
    # and then properly
    proper = post({"grant_type": "refresh_token"}, browser, jar)

    # Then the forged requests are refused and the proper one rotates the cookie
    for refused in (no_header, other_origin):
        assert refused["statusCode"] == 403
        assert body_of(refused)["code"] == "PERM_CSRF_REJECTED"
    assert proper["statusCode"] == 200
    (rotated_cookie,) = proper["cookies"]
    assert rotated_cookie.split(";", 1)[0] != jar[0]


def _client_of(basic: dict[str, str]) -> tuple[str, str]:
    client_id, _, secret = base64.b64decode(basic["Authorization"].split()[1]).decode().partition(":")
    return client_id, secret


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _from(source_ip: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    handler = load_handler("auth_token").lambda_handler
    event = http_event("POST", "/v1/auth/token", body=body, headers=headers)
    event["requestContext"]["http"]["sourceIp"] = source_ip
    return handler(event, _context())


def _context() -> Any:
    from tests.factories import FakeLambdaContext

    return FakeLambdaContext()


def test_a_form_encoded_request_mints_a_session_as_rfc_6749_asks(token_route) -> None:  # type: ignore[no-untyped-def]
    # Given the client's credentials in the form itself, and the roles as a space-separated scope
    _, basic = token_route
    client_id, secret = _client_of(basic)
    form = (
        f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
        "&user_id=u-form&scope=user+admin&attributes%5Bplan%5D=pro"
    )
    event = http_event(
        "POST", "/v1/auth/token", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )

    # When it is posted
    response = load_handler("auth_token").lambda_handler(event, _context())

    # Then a session is minted with those roles
    assert response["statusCode"] == 200, response["body"]
    assert body_of(response)["token_type"] == "Bearer"


def test_a_form_that_repeats_a_field_is_a_bad_request_without_python_in_it(token_route) -> None:  # type: ignore[no-untyped-def]
    event = http_event(
        "POST",
        "/v1/auth/token",
        body="grant_type=client_credentials&grant_type=refresh_token&user_id=u",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = load_handler("auth_token").lambda_handler(event, _context())
    assert response["statusCode"] == 400
    assert "[" not in response["body"] and "'" not in response["body"]


def test_wrong_secrets_are_limited_per_client_audited_and_challenged(token_route, capsys) -> None:  # type: ignore[no-untyped-def]
    # Given a real client id and a wrong secret, tried 10 times from one address
    _, basic = token_route
    client_id, secret = _client_of(basic)
    body = {"grant_type": "client_credentials", "user_id": "u-1"}
    failures = [_from("203.0.113.7", body, _basic(client_id, "fms_" + "x" * 43)) for _ in range(10)]

    # When the 11th attempt comes, from another address and even with the right secret
    limited = _from("198.51.100.9", body, _basic(client_id, secret))

    # Then the 10 were 401 with the Basic challenge, the 11th a 429 with the rate-limit headers
    assert {f["statusCode"] for f in failures} == {401}
    assert all(f["headers"]["WWW-Authenticate"].startswith("Basic realm=") for f in failures)
    assert limited["statusCode"] == 429, limited["body"]
    assert body_of(limited)["code"] == "RATE_LIMITED"
    assert int(limited["headers"]["Retry-After"]) > 0
    assert limited["headers"]["RateLimit-Limit"] == "10"
    assert limited["headers"]["RateLimit-Remaining"] == "0"
    # and each failure is in the tenant's audit chain and counted as a metric
    from firstmile.composition import container

    entries = container().audit_store.list_entries("acme", limit=50).items
    failed = [e for e in entries if e.action == "auth.client_authentication_failed"]
    assert len(failed) == 10
    assert failed[0].target == f"client:{client_id}"
    assert failed[0].details["source_ip"] == "203.0.113.7"
    assert capsys.readouterr().out.count('"ClientAuthenticationFailed"') >= 10


def test_failures_from_one_address_are_limited_whatever_client_id_they_name(token_route) -> None:  # type: ignore[no-untyped-def]
    # Given 30 failed attempts from one address, each naming a client id nobody has
    _, basic = token_route
    body = {"grant_type": "client_credentials", "user_id": "u-1"}
    unknown = [_basic(f"fmc_{i:022d}", "fms_" + "y" * 43) for i in range(31)]
    failures = [_from("192.0.2.44", body, headers) for headers in unknown[:30]]

    # When a 31st comes from that address, and a real client's request from another
    limited = _from("192.0.2.44", body, unknown[30])
    elsewhere = _from("192.0.2.45", body, basic)

    # Then the address is limited, the other caller is not, and the failures are in the platform's chain
    assert {f["statusCode"] for f in failures} == {401}
    assert limited["statusCode"] == 429
    assert elsewhere["statusCode"] == 200, elsewhere["body"]
    from firstmile.composition import container

    platform = container().audit_store.list_entries("_platform", limit=50).items
    assert sum(e.action == "auth.client_authentication_failed" for e in platform) == 30
