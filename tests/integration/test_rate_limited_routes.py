"""A rate-limited route through its real handler and the emulator: the budget, its headers, and who shares it.

``POST /v1/auth/revoke`` counts against ``user_write``: 20 requests per user and fixed minute. Everything is real
(entry point, limiter, counter store, table) except the limiter's clock: on the wall clock, a minute boundary
falling between the 20th and 21st call would reset the budget and make the test depend on when it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from firstmile.composition import container, reset
from firstmile.config import get_settings
from firstmile.identity.store import IdentityStore
from firstmile.identity.tokens import new_token_id
from firstmile.limits.logic import RateLimiter, rules_with_overrides
from firstmile.limits.store import RateLimitStore
from firstmile.platform import aws
from functions.catalog import by_name
from tests.factories import NOW, FakeClock, FakeLambdaContext, body_of, caller, http_event, load_handler
from tests.integration.conftest import Deployment
from tests.integration.routes import configure_route

FUNCTION = by_name("auth_revoke")
ROUTE = FUNCTION.route
LIMIT = 20
WINDOW_SECONDS = 60
assert NOW % WINDOW_SECONDS == 0, "the tests start at the beginning of a window"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def revoke(deployment: Deployment, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The revoke function configured from the catalogue, its limiter on ``clock``."""
    assert ROUTE is not None and ROUTE.rate_class == "user_write"
    configure_route(monkeypatch, ROUTE)

    # The container's limiter as the composition root wires it, with the clock injected.
    reset()
    settings = get_settings()
    container().rate_limiter = RateLimiter(
        RateLimitStore(aws.table(settings.table_name)),
        rules=rules_with_overrides(settings.rate_limit_overrides),
        clock=clock,
    )
    yield load_handler(FUNCTION.name)
    reset()


def revoke_own_token(handler: ModuleType, *, tenant: str = "t-acme", user: str = "u-1") -> tuple[str, dict[str, Any]]:
    """One ``POST /v1/auth/revoke`` of the caller's own access token; the token's id and the response."""
    assert ROUTE is not None
    jti = new_token_id()
    # The token expires after the test's clock, so its revocation is still in force when read back.
    auth = {**caller(tenant=tenant, sub=user), "sid": new_token_id(), "jti": jti, "exp": str(int(NOW) + 900)}
    event = http_event(ROUTE.method, ROUTE.path, body={"target": "token"}, auth=auth, request_id="req-limit")
    return jti, handler.lambda_handler(event, FakeLambdaContext())


def spend_the_budget(handler: ModuleType, clock: FakeClock, *, tenant: str = "t-acme", user: str = "u-1") -> None:
    for _ in range(LIMIT):
        _, response = revoke_own_token(handler, tenant=tenant, user=user)
        assert response["statusCode"] == 204
        clock.advance(1)


def test_a_user_gets_twenty_revocations_a_minute_with_a_shrinking_budget_then_429(
    deployment: Deployment, revoke: ModuleType, clock: FakeClock
) -> None:
    # Given a user who has not written this minute
    served: list[tuple[str, dict[str, Any]]] = []

    # When they revoke a token 20 times, two seconds apart
    for _ in range(LIMIT):
        served.append(revoke_own_token(revoke))
        clock.advance(2)

    # Then each is served and tells how much of the minute's budget is left, and when it renews
    assert [r["statusCode"] for _, r in served] == [204] * LIMIT
    assert [r["headers"]["RateLimit-Limit"] for _, r in served] == [str(LIMIT)] * LIMIT
    assert [int(r["headers"]["RateLimit-Remaining"]) for _, r in served] == list(range(LIMIT - 1, -1, -1))
    assert [int(r["headers"]["RateLimit-Reset"]) for _, r in served] == list(range(WINDOW_SECONDS, 20, -2))
    assert all("Retry-After" not in r["headers"] for _, r in served)

    # When they send a 21st in the same minute
    refused_jti, refused = revoke_own_token(revoke)

    # Then it is refused with 429 RATE_LIMITED problem+json, saying when to retry (the end of the window)
    assert refused["statusCode"] == 429
    assert refused["headers"]["Content-Type"] == "application/problem+json"
    problem = body_of(refused)
    assert (problem["status"], problem["code"], problem["instance"]) == (429, "RATE_LIMITED", "req-limit")
    seconds_left = str(WINDOW_SECONDS - 2 * LIMIT)
    assert refused["headers"]["Retry-After"] == seconds_left
    assert refused["headers"]["RateLimit-Limit"] == str(LIMIT)
    assert refused["headers"]["RateLimit-Remaining"] == "0"
    assert refused["headers"]["RateLimit-Reset"] == seconds_left
    # ...and the refused request did nothing: its token was not revoked, the 20 served ones were
    revoked = IdentityStore(aws.table(deployment.table_name)).revocations("t-acme", "u-1", clock()).token_ids
    assert revoked == {jti for jti, _ in served}
    assert refused_jti not in revoked


def test_another_user_keeps_their_own_budget(revoke: ModuleType, clock: FakeClock) -> None:
    # Given a user of tenant t-acme who spent the minute's budget
    spend_the_budget(revoke, clock, user="u-1")
    assert revoke_own_token(revoke, user="u-1")[1]["statusCode"] == 429

    # When another user of the same tenant, and a user of the same id in another tenant, revoke a token
    _, colleague = revoke_own_token(revoke, user="u-2")
    _, namesake = revoke_own_token(revoke, tenant="t-other", user="u-1")

    # Then both are served from full budgets of their own
    for response in (colleague, namesake):
        assert response["statusCode"] == 204
        assert response["headers"]["RateLimit-Remaining"] == str(LIMIT - 1)


def test_the_budget_renews_when_the_minute_ends(revoke: ModuleType, clock: FakeClock) -> None:
    # Given a user who spent the minute's budget
    spend_the_budget(revoke, clock)
    assert revoke_own_token(revoke)[1]["statusCode"] == 429

    # When the next window begins
    clock.now = NOW + WINDOW_SECONDS

    # Then they are served again, from a full budget
    _, response = revoke_own_token(revoke)
    assert response["statusCode"] == 204
    assert response["headers"]["RateLimit-Remaining"] == str(LIMIT - 1)
    assert response["headers"]["RateLimit-Reset"] == str(WINDOW_SECONDS)
