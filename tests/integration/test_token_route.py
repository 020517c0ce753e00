"""POST /v1/auth/token through its real handler: client credentials, rotation, and browser mode with CSRF."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from firstmile.identity.models import ApiClientCreate, TenantCreate
from firstmile.identity.runtime import reset_identity_runtime, tenancy_service
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
    reset_identity_runtime()
    load_handler("signing_key_rotation").lambda_handler({}, lambda_context)
    tenancy_service().create_tenant(TenantCreate(name="Acme", tenant_id="acme"), actor="operator:test")
    issued = tenancy_service().create_client("acme", ApiClientCreate(name="backend"), actor="operator:test")
    handler = load_handler("auth_token").lambda_handler
    basic = base64.b64encode(f"{issued.client.client_id}:{issued.client_secret}".encode()).decode()

    def post(body: dict[str, Any], headers: dict[str, str] | None = None, cookies: list[str] | None = None) -> Any:
        event = http_event("POST", "/v1/auth/token", body=body, headers=headers)
        if cookies:
            event["cookies"] = cookies
        return handler(event, lambda_context)

    yield post, {"Authorization": f"Basic {basic}"}
    reset_identity_runtime()


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
