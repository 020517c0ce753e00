"""The authorizer function end to end, without AWS: its answer for each kind of token, and what the protected
function it passes that answer to makes of it.

The handler (``functions/authorizer/handler.py``) gets a real ``Verifier`` over in-memory keys and a real
``RevocationCache`` over in-memory revocations, both on a fake clock, in place of the ones the runtime would build
over the table. Its answer's context is then given, as API Gateway would, to ``admin_audit_verify``'s real handler.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from firstmile.audit.models import ChainVerification
from firstmile.composition import container
from firstmile.config import reset_settings
from firstmile.errors import DependencyUnavailableError
from firstmile.identity import keys, tokens
from firstmile.identity.keys import KeySet, RotationPolicy
from firstmile.identity.models import AccessClaims, Revocations
from firstmile.identity.revocation import RevocationCache
from firstmile.observability import logger
from tests.factories import NOW, FakeClock, FakeLambdaContext, body_of, http_event, load_handler
from tests.unit.identity.conftest import AUDIENCE, ISSUER, KeyLoader

PROTECTED_PATH = "/v1/admin/audit/verify"
SID = "ses_" + "s" * 22


@dataclass
class RevocationSource:
    """In-memory revocations by (tenant, user); ``failing`` makes every read fail as the table would."""

    token_ids: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    failing: bool = False

    def __call__(self, tenant: str, user: str) -> Revocations:
        if self.failing:
            raise DependencyUnavailableError("table", "ProvisionedThroughputExceededException")
        return Revocations(token_ids=frozenset(self.token_ids.get((tenant, user), set())))


@dataclass
class FakeAuditStore:
    """Answers ``verify`` for any tenant and remembers which tenants were asked about."""

    asked: list[str] = field(default_factory=list)

    def verify(self, tenant: str) -> ChainVerification:
        self.asked.append(tenant)
        return ChainVerification(ok=True, checked=0, head_sequence=None)


@pytest.fixture
def revocations() -> RevocationSource:
    return RevocationSource()


@pytest.fixture
def log_text() -> Iterator[Callable[[], str]]:
    """Everything the functions log during the test (the logger's handler keeps the stream it was created with)."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer.getvalue
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def authorizer(
    monkeypatch: pytest.MonkeyPatch, loader: KeyLoader, revocations: RevocationSource, clock: FakeClock
) -> ModuleType:
    """The authorizer handler with its verifier and revocation cache over in-memory sources."""
    module = load_handler("authorizer")
    verifier = tokens.Verifier(issuer=ISSUER, audience=AUDIENCE, load_keys=loader, clock=clock)
    cache = RevocationCache(revocations, ttl_seconds=5, clock=clock)
    container().token_verifier = verifier
    container().revocation_cache = cache
    return module


@pytest.fixture
def protected(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, FakeAuditStore]:
    """``GET /v1/admin/audit/verify`` configured as the catalogue says (admin role), over a fake audit store."""
    monkeypatch.setenv("FIRSTMILE_ROUTE_ROLE", "admin")
    reset_settings()
    module = load_handler("admin_audit_verify")
    store = FakeAuditStore()
    container().audit_store = store
    return module, store


def claims_for(**overrides: Any) -> AccessClaims:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "tenant": "t-acme",
        "subject": "u-1",
        "roles": ["user", "admin"],
        "attributes": {"locale": "de-DE", "plan": "pro"},
        "session_id": SID,
        "now": NOW,
        "ttl_seconds": 600,
    }
    values.update(overrides)
    return tokens.access_claims(**values)


def signed(claims: AccessClaims, keyset: KeySet) -> str:
    assert keyset.current is not None
    return tokens.sign_access_token(claims, keyset.current)


def authorizer_request(authorization: str | None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) Lambda authorizer request for the protected route."""
    headers = {"authorization": authorization} if authorization is not None else {}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:us-east-1:000000000000:local/$default/GET{PROTECTED_PATH}",
        "identitySource": [authorization] if authorization else [],
        "routeKey": f"GET {PROTECTED_PATH}",
        "rawPath": PROTECTED_PATH,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "http": {"method": "GET", "path": PROTECTED_PATH, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "req-authz",
            "routeKey": f"GET {PROTECTED_PATH}",
            "stage": "$default",
        },
    }


def authorize(authorizer: ModuleType, authorization: str | None) -> dict[str, Any]:
    return authorizer.lambda_handler(authorizer_request(authorization), FakeLambdaContext())  # type: ignore[no-any-return]


def call_protected(protected: ModuleType, context: dict[str, str]) -> dict[str, Any]:
    """The protected route, called with the context the authorizer answered (as API Gateway passes it on)."""
    event = http_event("GET", PROTECTED_PATH, auth=context, request_id="req-protected")
    return protected.lambda_handler(event, FakeLambdaContext())  # type: ignore[no-any-return]


# --- a valid token --------------------------------------------------------------------------------------------


def test_a_valid_token_passes_the_caller_on_and_the_route_serves_that_callers_tenant(
    authorizer: ModuleType, protected: tuple[ModuleType, FakeAuditStore], keyset: KeySet
) -> None:
    # Given a valid access token of an admin of t-acme
    claims = claims_for()

    # When the authorizer checks it
    answer = authorize(authorizer, "Bearer " + signed(claims, keyset))

    # Then it allows the request with the caller's tenant, user, roles, attributes, session, token id and expiry
    assert answer == {
        "isAuthorized": True,
        "context": {
            "tenant": "t-acme",
            "sub": "u-1",
            "roles": "admin,user",
            "attributes": '{"locale":"de-DE","plan":"pro"}',
            "sid": SID,
            "jti": claims.jti,
            "exp": str(int(NOW) + 600),
        },
    }
    # ...and the protected function serves it, for the token's tenant
    handler, store = protected
    response = call_protected(handler, answer["context"])
    assert response["statusCode"] == 200
    assert body_of(response)["ok"] is True
    assert store.asked == ["t-acme"]


# --- refused tokens -------------------------------------------------------------------------------------------


def _foreign_key_token(keyset: KeySet) -> str:
    stranger, _ = keys.advance(KeySet(), NOW - 3600, RotationPolicy())
    return signed(claims_for(), stranger)


def _tampered_token(keyset: KeySet) -> str:
    head, _, signature = signed(claims_for(), keyset).split(".")
    payload = claims_for(roles=["user", "admin", "operator"]).model_dump(mode="json")
    return ".".join([head, keys.b64url(json.dumps(payload).encode()), signature])


# Each: how the Authorization header is made, what the clock does first, and the code the authorizer passes on.
REFUSALS: dict[str, tuple[Callable[[KeySet], str | None], float, str]] = {
    "no header": (lambda k: None, 0, "AUTH_UNAUTHENTICATED"),
    "empty bearer": (lambda k: "Bearer ", 0, "AUTH_TOKEN_MALFORMED"),
    "basic credentials": (lambda k: "Basic dXNlcjpwYXNz", 0, "AUTH_TOKEN_MALFORMED"),
    "not a jwt": (lambda k: "Bearer not-a-token", 0, "AUTH_TOKEN_MALFORMED"),
    "wrong audience": (lambda k: "Bearer " + signed(claims_for(audience="urn:other"), k), 0, "AUTH_TOKEN_INVALID"),
    "wrong issuer": (lambda k: "Bearer " + signed(claims_for(issuer="urn:other"), k), 0, "AUTH_TOKEN_INVALID"),
    "unknown signing key": (lambda k: "Bearer " + _foreign_key_token(k), 0, "AUTH_TOKEN_INVALID"),
    "altered claims": (lambda k: "Bearer " + _tampered_token(k), 0, "AUTH_TOKEN_INVALID"),
    "expired": (lambda k: "Bearer " + signed(claims_for(), k), 600, "AUTH_TOKEN_EXPIRED"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_token_is_passed_on_as_its_code_and_the_route_answers_401(
    authorizer: ModuleType,
    protected: tuple[ModuleType, FakeAuditStore],
    keyset: KeySet,
    clock: FakeClock,
    log_text: Callable[[], str],
    case: str,
) -> None:
    # Given a token that must be refused
    make, wait, code = REFUSALS[case]
    authorization = make(keyset)
    clock.advance(wait)

    # When the authorizer checks it
    answer = authorize(authorizer, authorization)

    # Then it lets the request through carrying only the refusal's code: no caller, no reason beyond the code
    assert answer == {"isAuthorized": True, "context": {"auth_error": code}}
    # ...and the protected function answers 401 problem+json with that code and a Bearer challenge
    handler, store = protected
    response = call_protected(handler, answer["context"])
    assert response["statusCode"] == 401
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert response["headers"]["WWW-Authenticate"].startswith("Bearer ")
    problem = body_of(response)
    assert (problem["status"], problem["code"], problem["instance"]) == (401, code, "req-protected")
    assert store.asked == []
    # ...and the refusal is logged with its reason, but the token itself appears in no log line
    logged = log_text()
    assert '"message":"access token refused"' in logged
    token = (authorization or "").removeprefix("Bearer ").strip()
    assert not token or token not in logged


def test_a_revoked_token_is_passed_on_as_revoked_and_the_route_answers_401(
    authorizer: ModuleType,
    protected: tuple[ModuleType, FakeAuditStore],
    keyset: KeySet,
    revocations: RevocationSource,
) -> None:
    # Given a valid token whose id its user revoked
    claims = claims_for()
    revocations.token_ids[("t-acme", "u-1")] = {claims.jti}

    # When the authorizer checks it
    answer = authorize(authorizer, "Bearer " + signed(claims, keyset))

    # Then the code is AUTH_TOKEN_REVOKED, and the protected function answers 401 with it
    assert answer == {"isAuthorized": True, "context": {"auth_error": "AUTH_TOKEN_REVOKED"}}
    handler, store = protected
    response = call_protected(handler, answer["context"])
    assert (response["statusCode"], body_of(response)["code"]) == (401, "AUTH_TOKEN_REVOKED")
    assert response["headers"]["WWW-Authenticate"].startswith("Bearer ")
    assert store.asked == []


# --- the stores fail ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["signing keys", "revocations"])
def test_a_token_that_cannot_be_checked_is_passed_on_as_unavailable_and_the_route_answers_503(
    authorizer: ModuleType,
    protected: tuple[ModuleType, FakeAuditStore],
    keyset: KeySet,
    loader: KeyLoader,
    revocations: RevocationSource,
    failing: str,
) -> None:
    # Given a valid token, and a cold container whose keys, or whose revocations, cannot be read
    if failing == "signing keys":
        loader.failing = True
    else:
        revocations.failing = True

    # When the authorizer checks it
    answer = authorize(authorizer, "Bearer " + signed(claims_for(), keyset))

    # Then it fails closed and says the failure is temporary
    assert answer == {"isAuthorized": True, "context": {"auth_error": "SYS_UNAVAILABLE"}}
    # ...and the protected function answers 503 problem+json with that code, without a Bearer challenge
    handler, store = protected
    response = call_protected(handler, answer["context"])
    assert response["statusCode"] == 503
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert "WWW-Authenticate" not in response["headers"]
    assert (body_of(response)["status"], body_of(response)["code"]) == (503, "SYS_UNAVAILABLE")
    assert store.asked == []


def test_an_unknown_refusal_code_is_answered_as_unauthenticated(
    protected: tuple[ModuleType, FakeAuditStore],
) -> None:
    # Given a context whose auth_error is not a 401/503 code of the taxonomy (a mismatched authorizer version)
    handler, store = protected

    # When the protected function receives it
    response = call_protected(handler, {"auth_error": "PERM_FORBIDDEN"})

    # Then it answers the generic 401, never the code it was given
    assert (response["statusCode"], body_of(response)["code"]) == (401, "AUTH_UNAUTHENTICATED")
    assert store.asked == []
