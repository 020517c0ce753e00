"""Fixed-window rate limiting: the decision, its numbers, and what happens when the counter store fails.

A window is ``[floor(now / w) * w, +w)``. Every request increments the window's counter atomically and is allowed
while the count stays within the limit. Fixed windows let a caller spend up to twice the limit across a window
boundary; that is accepted in exchange for one atomic write per request (see docs/decisions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from firstmile import errors as e
from firstmile.limits.models import DEFAULT_RULES, LimitRule, LimitSubject, RateDecision, RouteClass
from firstmile.limits.ports import Counter
from firstmile.observability import logger

LIMITER_UNAVAILABLE_RETRY_SECONDS = 5


def window_start(now: float, window_seconds: int) -> int:
    """The start (epoch seconds) of the fixed window containing ``now``."""
    return int(now // window_seconds) * window_seconds


def decide(count: int, rule: LimitRule, now: float) -> RateDecision:
    """Whether the ``count``-th request of the current window is allowed, with the numbers a caller is told."""
    reset = max(1, math.ceil(window_start(now, rule.window_seconds) + rule.window_seconds - now))
    allowed = count <= rule.limit
    return RateDecision(
        allowed=allowed,
        limit=rule.limit,
        remaining=max(0, rule.limit - count),
        reset_seconds=reset,
        retry_after_seconds=None if allowed else reset,
    )


def raise_if_limited(decision: RateDecision) -> RateDecision:
    """``decision`` when allowed; ``RateLimitedError`` (``RATE_LIMITED``) with the decision's numbers otherwise."""
    if not decision.allowed:
        raise e.RateLimitedError(
            limit=decision.limit,
            remaining=decision.remaining,
            reset_seconds=decision.reset_seconds,
            retry_after_seconds=decision.retry_after_seconds or decision.reset_seconds,
        )
    return decision


def rules_with_overrides(overrides: Mapping[str, int] | None = None) -> dict[RouteClass, LimitRule]:
    """The default rules with some limits replaced (``Settings.rate_limit_overrides``); unknown names refused."""
    rules = dict(DEFAULT_RULES)
    for name, limit in (overrides or {}).items():
        route_class = RouteClass(name)
        base = rules[route_class]
        rules[route_class] = LimitRule(route_class, limit, base.window_seconds, base.fail_closed)
    return rules


class RateLimiter:
    """Counts requests per subject and route class, and decides.

    When the counter fails: rules that fail open allow the request (``degraded``) and log it; rules that fail
    closed refuse it with ``SYS_UNAVAILABLE`` and how long to wait.
    """

    def __init__(
        self,
        counter: Counter,
        *,
        rules: Mapping[RouteClass, LimitRule] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counter = counter
        self._rules = dict(rules or DEFAULT_RULES)
        self._clock = clock

    def rule(self, route_class: RouteClass) -> LimitRule:
        """The rule that applies to ``route_class``."""
        return self._rules[route_class]

    def check(self, route_class: RouteClass, subject: LimitSubject) -> RateDecision:
        """Count this request and decide; never raises for being limited (see ``enforce``)."""
        rule, now = self._rules[route_class], self._clock()
        start = window_start(now, rule.window_seconds)
        try:
            count = self._counter.hit(subject, route_class, start, rule.window_seconds)
        except e.DependencyUnavailableError as exc:
            return _unavailable(route_class, rule, start, now, exc)
        return decide(count, rule, now)

    def enforce_spent(self, route_class: RouteClass, subject: LimitSubject) -> RateDecision:
        """Refuse (``RATE_LIMITED``) when the window's count has reached the limit already, without counting this
        request.

        For limits on failures: the failure is counted later (``check``) once it happened, but a caller who spent the
        budget is refused before anything else is tried.
        """
        rule, now = self._rules[route_class], self._clock()
        start = window_start(now, rule.window_seconds)
        try:
            count = self._counter.count(subject, route_class, start)
        except e.DependencyUnavailableError as exc:
            return _unavailable(route_class, rule, start, now, exc)
        return raise_if_limited(decide(count + 1, rule, now))

    def enforce(self, route_class: RouteClass, subject: LimitSubject) -> RateDecision:
        """Count this request; ``RateLimitedError`` when it is over the limit."""
        return raise_if_limited(self.check(route_class, subject))


def _unavailable(
    route_class: RouteClass, rule: LimitRule, start: float, now: float, cause: e.DependencyUnavailableError
) -> RateDecision:
    """The counter could not be reached: refuse (``SYS_UNAVAILABLE``) when the rule fails closed, otherwise allow,
    marked degraded."""
    if rule.fail_closed:
        logger.warning("rate limiter unavailable; refusing", extra={"route_class": route_class.value})
        raise e.DomainError(
            e.SYS_UNAVAILABLE,
            "The request could not be checked against its rate limit; retry shortly.",
            retry_after_seconds=LIMITER_UNAVAILABLE_RETRY_SECONDS,
        ) from cause
    logger.warning("rate limiter unavailable; allowing", extra={"route_class": route_class.value})
    reset = max(1, math.ceil(start + rule.window_seconds - now))
    return RateDecision(True, rule.limit, rule.limit, reset, degraded=True)
