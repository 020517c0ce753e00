"""Rate limits: fixed windows, the 429 problem and its headers, and failing open or closed per route class."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firstmile import errors as e
from firstmile.http import problems as p
from firstmile.http.headers import rate_limit_headers
from firstmile.limits.logic import RateLimiter, decide, rules_with_overrides, window_start
from firstmile.limits.models import DEFAULT_RULES, LimitRule, LimitSubject, RouteClass
from tests.fakes.limits import FakeRateLimitStore

NOW = 1_800_000_000.0
ALICE = LimitSubject.user("t-acme", "u-alice")
BOB = LimitSubject.user("t-acme", "u-bob")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_defaults_are_those_the_product_promises() -> None:
    assert (DEFAULT_RULES[RouteClass.USER_WRITE].limit, DEFAULT_RULES[RouteClass.USER_WRITE].window_seconds) == (20, 60)
    privacy = DEFAULT_RULES[RouteClass.PRIVACY_REQUEST]
    assert (privacy.limit, privacy.window_seconds) == (3, 86400)
    assert {c for c, r in DEFAULT_RULES.items() if r.fail_closed} == {
        RouteClass.AUTH_TOKEN,
        RouteClass.AUTH_REFRESH,
        RouteClass.VERIFICATION_CHECK,
        RouteClass.CLIENT_AUTH_FAILURE,
        RouteClass.SOURCE_AUTH_FAILURE,
    }
    client_failures = DEFAULT_RULES[RouteClass.CLIENT_AUTH_FAILURE]
    source_failures = DEFAULT_RULES[RouteClass.SOURCE_AUTH_FAILURE]
    assert (client_failures.limit, client_failures.window_seconds) == (10, 300)
    assert (source_failures.limit, source_failures.window_seconds) == (30, 300)


def test_a_spent_failure_budget_refuses_before_counting_and_an_unspent_one_lets_through() -> None:
    # Given a client id with 9 failures counted in this window
    clock = Clock(window_start(NOW, 300) + 10)
    counter = FakeRateLimitStore()
    limiter = RateLimiter(counter, clock=clock)
    client = LimitSubject.client("", "fmc_x")
    for _ in range(9):
        limiter.check(RouteClass.CLIENT_AUTH_FAILURE, client)

    # When it asks twice, the 10th failure being counted in between
    allowed = limiter.enforce_spent(RouteClass.CLIENT_AUTH_FAILURE, client)
    limiter.check(RouteClass.CLIENT_AUTH_FAILURE, client)
    with pytest.raises(e.RateLimitedError) as limited:
        limiter.enforce_spent(RouteClass.CLIENT_AUTH_FAILURE, client)

    # Then the first passes without adding to the count, the second is refused until the window ends
    assert allowed.allowed and counter.count(client, RouteClass.CLIENT_AUTH_FAILURE, window_start(NOW, 300)) == 10
    assert limited.value.code == e.RATE_LIMITED
    assert limited.value.retry_after_seconds == 290
    assert limited.value.remaining == 0


def test_the_21st_user_write_in_a_minute_is_limited_with_the_headers() -> None:
    # Given a user who wrote 20 times in one minute
    clock = Clock(window_start(NOW, 60) + 10)
    limiter = RateLimiter(FakeRateLimitStore(), clock=clock)
    decisions = [limiter.enforce(RouteClass.USER_WRITE, ALICE) for _ in range(20)]
    assert [d.remaining for d in decisions[-2:]] == [1, 0]

    # When the 21st arrives 40 s into the window
    clock.now += 30
    with pytest.raises(e.RateLimitedError) as limited:
        limiter.enforce(RouteClass.USER_WRITE, ALICE)

    # Then it is refused with 429 and told when to come back
    problem = p.problem_for(limited.value)
    assert problem.error is p.RATE_LIMITED and problem.error.status == 429
    assert problem.headers == {
        "RateLimit-Limit": "20",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "20",
        "Retry-After": "20",
    }
    # ...while another user is not affected, and the next window starts afresh
    assert limiter.enforce(RouteClass.USER_WRITE, BOB).remaining == 19
    clock.now += 20
    assert limiter.enforce(RouteClass.USER_WRITE, ALICE).remaining == 19


def test_the_4th_privacy_request_in_a_day_is_limited_until_midnight_utc() -> None:
    day = window_start(NOW, 86400)
    clock = Clock(day + 3600)
    limiter = RateLimiter(FakeRateLimitStore(), clock=clock)
    for _ in range(3):
        limiter.enforce(RouteClass.PRIVACY_REQUEST, ALICE)

    clock.now = day + 86399
    with pytest.raises(e.RateLimitedError) as limited:
        limiter.enforce(RouteClass.PRIVACY_REQUEST, ALICE)

    assert limited.value.retry_after_seconds == 1
    clock.now = day + 86400
    assert limiter.enforce(RouteClass.PRIVACY_REQUEST, ALICE).allowed


def test_route_classes_have_separate_budgets() -> None:
    limiter = RateLimiter(FakeRateLimitStore(), clock=Clock(NOW))
    for _ in range(3):
        limiter.enforce(RouteClass.PRIVACY_REQUEST, ALICE)

    assert limiter.enforce(RouteClass.USER_WRITE, ALICE).remaining == 19


def test_ordinary_writes_fail_open_when_the_counter_store_fails() -> None:
    limiter = RateLimiter(FakeRateLimitStore().unavailable(), clock=Clock(NOW))

    decision = limiter.enforce(RouteClass.USER_WRITE, ALICE)

    assert decision.allowed and decision.degraded


@pytest.mark.parametrize("route_class", [RouteClass.AUTH_TOKEN, RouteClass.AUTH_REFRESH, RouteClass.VERIFICATION_CHECK])
def test_auth_and_verification_fail_closed_when_the_counter_store_fails(route_class: RouteClass) -> None:
    limiter = RateLimiter(FakeRateLimitStore().unavailable(), clock=Clock(NOW))

    with pytest.raises(e.DomainError) as refused:
        limiter.enforce(route_class, LimitSubject.client("t-acme", "fmc_x"))

    assert refused.value.code == e.SYS_UNAVAILABLE
    assert refused.value.retry_after_seconds == 5
    assert p.problem_for(refused.value).headers == {"Retry-After": "5"}


def test_overrides_replace_a_limit_and_keep_the_window_and_failure_mode() -> None:
    rules = rules_with_overrides({"user_write": 40})

    assert rules[RouteClass.USER_WRITE] == LimitRule(RouteClass.USER_WRITE, 40, 60, fail_closed=False)
    with pytest.raises(ValueError):
        rules_with_overrides({"no_such_class": 1})


@given(
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=1, max_value=86400),
    st.integers(min_value=1, max_value=2000),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
def test_a_decision_allows_exactly_the_first_limit_requests_and_resets_within_the_window(
    limit: int, window: int, count: int, now: float
) -> None:
    rule = LimitRule(RouteClass.USER_WRITE, limit, window, fail_closed=False)

    decision = decide(count, rule, now)

    assert decision.allowed is (count <= limit)
    assert decision.remaining == max(0, limit - count)
    assert 1 <= decision.reset_seconds <= window
    assert window_start(now, window) <= now < window_start(now, window) + window
    headers = rate_limit_headers(
        decision.limit, decision.remaining, decision.reset_seconds, decision.retry_after_seconds
    )
    assert ("Retry-After" in headers) is (not decision.allowed)
