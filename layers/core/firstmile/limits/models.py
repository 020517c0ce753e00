"""Rate-limit shapes: route classes with their default rules, who is counted, and what a check decides."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class RouteClass(StrEnum):
    """Routes that share one budget."""

    USER_WRITE = "user_write"
    PROGRESS_WRITE = "progress_write"
    PRIVACY_REQUEST = "privacy_request"
    AUTH_TOKEN = "auth_token"  # noqa: S105 - a route class name
    AUTH_REFRESH = "auth_refresh"
    VERIFICATION_CHECK = "verification_check"
    # Failed authentications at the token endpoint (docs/decisions/0009-failed-client-authentication-limits.md).
    CLIENT_AUTH_FAILURE = "client_auth_failure"
    SOURCE_AUTH_FAILURE = "source_auth_failure"


@dataclass(frozen=True)
class LimitRule:
    """At most ``limit`` requests per fixed window of ``window_seconds``.

    ``fail_closed``: when the counter store errors, refuse (503) rather than let the request through.
    """

    route_class: RouteClass
    limit: int
    window_seconds: int
    fail_closed: bool

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError("a limit allows at least one request per window of at least one second")


DEFAULT_RULES: dict[RouteClass, LimitRule] = {
    # Ordinary writes of a user: an unavailable counter must not take the product down with it.
    RouteClass.USER_WRITE: LimitRule(RouteClass.USER_WRITE, 20, 60, fail_closed=False),
    # Onboarding progress: a user clicking through steps (start and complete each) makes bursts of writes.
    RouteClass.PROGRESS_WRITE: LimitRule(RouteClass.PROGRESS_WRITE, 120, 60, fail_closed=False),
    # Export and deletion requests: each one starts expensive work; a legal right, so not blocked by our outage.
    RouteClass.PRIVACY_REQUEST: LimitRule(RouteClass.PRIVACY_REQUEST, 3, 24 * 3600, fail_closed=False),
    # Session minting per API client, and refreshes per user: credential stuffing and token grinding targets.
    RouteClass.AUTH_TOKEN: LimitRule(RouteClass.AUTH_TOKEN, 60, 60, fail_closed=True),
    RouteClass.AUTH_REFRESH: LimitRule(RouteClass.AUTH_REFRESH, 10, 60, fail_closed=True),
    # Checking a verification code: a handful of checks per quarter hour. Each code also allows only five wrong
    # guesses (decision 0083); at five here a user who mistyped and asked for a new code could not enter it.
    RouteClass.VERIFICATION_CHECK: LimitRule(RouteClass.VERIFICATION_CHECK, 10, 900, fail_closed=True),
    # Wrong secrets per API client id, and failed token requests per source address, per five minutes. Counted only
    # when they fail; once spent, every attempt is refused before its credentials are checked.
    RouteClass.CLIENT_AUTH_FAILURE: LimitRule(RouteClass.CLIENT_AUTH_FAILURE, 10, 300, fail_closed=True),
    RouteClass.SOURCE_AUTH_FAILURE: LimitRule(RouteClass.SOURCE_AUTH_FAILURE, 30, 300, fail_closed=True),
}


@dataclass(frozen=True)
class LimitSubject:
    """Who is counted: a user of a tenant, an API client (of a tenant, when known), or a source address."""

    tenant: str
    kind: Literal["user", "client", "source"]
    id: str

    @classmethod
    def user(cls, tenant: str, user: str) -> LimitSubject:
        return cls(tenant, "user", user)

    @classmethod
    def client(cls, tenant: str, client_id: str) -> LimitSubject:
        return cls(tenant, "client", client_id)

    @classmethod
    def source(cls, address: str) -> LimitSubject:
        """A caller's source IP address (API Gateway's ``sourceIp``), whoever it claims to be."""
        return cls("", "source", address)


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one check: whether the request may proceed and the numbers for the headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int | None = None
    # True when the counter could not be read and the rule fails open: the numbers are then the rule's, unverified.
    degraded: bool = False
