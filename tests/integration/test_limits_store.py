"""Rate-limit counters against the emulator: atomic, per subject and route class, TTL-cleaned, failing per rule."""

from __future__ import annotations

import pytest

from firstmile import errors as e
from firstmile.http import problems as p
from firstmile.limits.logic import RateLimiter, window_start
from firstmile.limits.models import LimitSubject, RouteClass
from firstmile.limits.store import RateLimitStore
from firstmile.platform import aws
from tests.contracts.limits import RateCounterContract
from tests.factories import NOW, FakeClock
from tests.integration.conftest import Deployment

ALICE = LimitSubject.user("t-acme", "u-alice")


class TestRateLimitStoreContract(RateCounterContract):
    """The counters' contract, on the table engine."""

    implementation = RateLimitStore

    @pytest.fixture
    def counter(self, deployment: Deployment) -> RateLimitStore:
        return RateLimitStore(aws.table(deployment.table_name))


def limiter(deployment: Deployment, clock: FakeClock, table_name: str | None = None) -> RateLimiter:
    return RateLimiter(RateLimitStore(aws.table(table_name or deployment.table_name)), clock=clock)


def test_the_21st_user_write_in_a_minute_is_limited(deployment: Deployment) -> None:
    # Given a user who made 20 writes within one minute
    clock = FakeClock(window_start(NOW, 60) + 5)
    limits = limiter(deployment, clock)
    for n in range(20):
        clock.now += 2
        assert limits.enforce(RouteClass.USER_WRITE, ALICE).remaining == 19 - n

    # When the 21st arrives in the same minute
    with pytest.raises(e.RateLimitedError) as limited:
        limits.enforce(RouteClass.USER_WRITE, ALICE)

    # Then it is a 429 with the rate-limit headers
    problem = p.problem_for(limited.value)
    assert problem.error.status == 429
    assert problem.headers["RateLimit-Limit"] == "20"
    assert problem.headers["RateLimit-Remaining"] == "0"
    assert problem.headers["Retry-After"] == problem.headers["RateLimit-Reset"] == "15"
    # ...and the next minute starts afresh
    clock.now = window_start(NOW, 60) + 60
    assert limits.enforce(RouteClass.USER_WRITE, ALICE).remaining == 19


def test_the_4th_privacy_request_in_a_day_is_limited(deployment: Deployment) -> None:
    day = window_start(NOW, 86400)
    clock = FakeClock(day + 60)
    limits = limiter(deployment, clock)
    for _ in range(3):
        clock.now += 3600
        limits.enforce(RouteClass.PRIVACY_REQUEST, ALICE)

    with pytest.raises(e.RateLimitedError) as limited:
        limits.enforce(RouteClass.PRIVACY_REQUEST, ALICE)

    assert limited.value.retry_after_seconds == day + 86400 - clock.now
    # another user of the same tenant still has their three
    assert limits.enforce(RouteClass.PRIVACY_REQUEST, LimitSubject.user("t-acme", "u-bob")).remaining == 2


def test_counters_live_under_their_subject_and_expire_after_their_window(deployment: Deployment) -> None:
    clock = FakeClock(NOW)
    limits = limiter(deployment, clock)
    limits.enforce(RouteClass.USER_WRITE, ALICE)
    limits.enforce(RouteClass.AUTH_TOKEN, LimitSubject.client("t-acme", "fmc_abc"))
    start = window_start(NOW, 60)

    user_counter = deployment.table.get_item(
        Key={"pk": "TENANT#t-acme#USER#u-alice", "sk": f"RATE#user_write#{start}"}
    )["Item"]
    client_counter = deployment.table.get_item(Key={"pk": "CLIENT#fmc_abc", "sk": f"RATE#auth_token#{start}"})["Item"]

    assert user_counter["count"] == 1 and user_counter["expires_at"] == start + 60 + 60
    assert client_counter["count"] == 1


def test_when_the_store_fails_user_writes_pass_and_auth_is_refused(deployment: Deployment) -> None:
    # Given a limiter whose table does not exist (the store errors on every call)
    limits = limiter(deployment, FakeClock(NOW), table_name="no-such-table")

    # Then an ordinary write goes through, marked degraded, with the rule's numbers
    decision = limits.enforce(RouteClass.USER_WRITE, ALICE)
    assert decision.allowed and decision.degraded
    assert decision.limit == 20

    # ...while token minting and verification checks fail closed
    for route_class in (RouteClass.AUTH_TOKEN, RouteClass.VERIFICATION_CHECK):
        with pytest.raises(e.DomainError) as refused:
            limits.enforce(route_class, ALICE)
        assert p.problem_for(refused.value).error.status == 503
