"""Domain errors and every stable error code of Firstmile, grouped by the part of the product that raises them.

Logic, services, stores and consumers raise ``DomainError`` (or a subclass) with one of these codes. Codes are
stable API: clients switch on ``code``, never on the detail. What a code means on the wire (its HTTP status, its
title, which data becomes a header) is the HTTP layer's business, in one table (``firstmile/http/problems.py``);
nothing here knows about HTTP (docs/decisions/0043-domain-errors-with-stable-codes.md).

A code's family is its prefix: ``AUTH`` (who the caller is), ``PERM`` (what the caller may do), ``VAL`` (what the
caller sent), ``RES`` (the state of a resource), ``RATE`` (limits), ``BIZ`` (business rules), ``EXT`` (a dependency
answered badly), ``SYS`` (Firstmile itself).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# --- requests: what the edge refuses before any domain code runs -----------------------------------------------
AUTH_UNAUTHENTICATED: Final = "AUTH_UNAUTHENTICATED"
PERM_FORBIDDEN: Final = "PERM_FORBIDDEN"
VAL_BAD_REQUEST: Final = "VAL_BAD_REQUEST"
VAL_BODY_TOO_DEEP: Final = "VAL_BODY_TOO_DEEP"
VAL_MEDIA_TYPE_UNSUPPORTED: Final = "VAL_MEDIA_TYPE_UNSUPPORTED"
VAL_REQUEST_INVALID: Final = "VAL_REQUEST_INVALID"
VAL_IF_MATCH_INVALID: Final = "VAL_IF_MATCH_INVALID"
VAL_IDEMPOTENCY_KEY_INVALID: Final = "VAL_IDEMPOTENCY_KEY_INVALID"
VAL_IDEMPOTENCY_KEY_REUSED: Final = "VAL_IDEMPOTENCY_KEY_REUSED"
RES_ROUTE_NOT_FOUND: Final = "RES_ROUTE_NOT_FOUND"
RES_PRECONDITION_REQUIRED: Final = "RES_PRECONDITION_REQUIRED"
RES_REQUEST_IN_PROGRESS: Final = "RES_REQUEST_IN_PROGRESS"
SYS_INTERNAL: Final = "SYS_INTERNAL"

# --- the platform: stored items, lists, limits and dependencies, shared by every domain ------------------------
RES_NOT_FOUND: Final = "RES_NOT_FOUND"
RES_VERSION_CONFLICT: Final = "RES_VERSION_CONFLICT"
VAL_TOO_LARGE: Final = "VAL_TOO_LARGE"
VAL_UNSTORABLE_VALUE: Final = "VAL_UNSTORABLE_VALUE"
VAL_CURSOR_INVALID: Final = "VAL_CURSOR_INVALID"
RATE_LIMITED: Final = "RATE_LIMITED"
EXT_DEPENDENCY_FAILED: Final = "EXT_DEPENDENCY_FAILED"
SYS_UNAVAILABLE: Final = "SYS_UNAVAILABLE"

# --- identity: access tokens, sessions, API clients, tenants ---------------------------------------------------
AUTH_TOKEN_MALFORMED: Final = "AUTH_TOKEN_MALFORMED"  # noqa: S105 - a code, not a token
AUTH_TOKEN_INVALID: Final = "AUTH_TOKEN_INVALID"  # noqa: S105 - a code, not a token
AUTH_TOKEN_EXPIRED: Final = "AUTH_TOKEN_EXPIRED"  # noqa: S105 - a code, not a token
AUTH_TOKEN_REVOKED: Final = "AUTH_TOKEN_REVOKED"  # noqa: S105 - a code, not a token
AUTH_REFRESH_INVALID: Final = "AUTH_REFRESH_INVALID"
AUTH_REFRESH_EXPIRED: Final = "AUTH_REFRESH_EXPIRED"
AUTH_REFRESH_REVOKED: Final = "AUTH_REFRESH_REVOKED"
AUTH_REFRESH_SUPERSEDED: Final = "AUTH_REFRESH_SUPERSEDED"
AUTH_REFRESH_REUSED: Final = "AUTH_REFRESH_REUSED"
AUTH_REFRESH_MISSING: Final = "AUTH_REFRESH_MISSING"
AUTH_CLIENT_INVALID: Final = "AUTH_CLIENT_INVALID"
PERM_ROLE_NOT_ALLOWED: Final = "PERM_ROLE_NOT_ALLOWED"
PERM_CSRF_REJECTED: Final = "PERM_CSRF_REJECTED"
RES_TENANT_EXISTS: Final = "RES_TENANT_EXISTS"
RES_TENANT_NOT_FOUND: Final = "RES_TENANT_NOT_FOUND"
RES_CLIENT_NOT_FOUND: Final = "RES_CLIENT_NOT_FOUND"

# --- feature flags ---------------------------------------------------------------------------------------------
RES_FLAG_NOT_FOUND: Final = "RES_FLAG_NOT_FOUND"
RES_FLAG_EXISTS: Final = "RES_FLAG_EXISTS"
RES_FLAG_VERSION_NOT_FOUND: Final = "RES_FLAG_VERSION_NOT_FOUND"
RES_SEGMENT_NOT_FOUND: Final = "RES_SEGMENT_NOT_FOUND"
RES_ROLLOUT_NOT_FOUND: Final = "RES_ROLLOUT_NOT_FOUND"
VAL_FLAG_KEY_MISMATCH: Final = "VAL_FLAG_KEY_MISMATCH"
VAL_SEGMENT_KEY_MISMATCH: Final = "VAL_SEGMENT_KEY_MISMATCH"
VAL_ATTRIBUTE_NOT_ALLOWED: Final = "VAL_ATTRIBUTE_NOT_ALLOWED"
VAL_ROLLOUT_RULE_INVALID: Final = "VAL_ROLLOUT_RULE_INVALID"
VAL_ROLLOUT_STEPS_INVALID: Final = "VAL_ROLLOUT_STEPS_INVALID"
VAL_FLAG_PREREQUISITE_CYCLE: Final = "VAL_FLAG_PREREQUISITE_CYCLE"
VAL_FLAG_PREREQUISITE_DEPTH: Final = "VAL_FLAG_PREREQUISITE_DEPTH"
VAL_FLAG_REFERENCE_INVALID: Final = "VAL_FLAG_REFERENCE_INVALID"
BIZ_ROLLOUT_ACTIVE: Final = "BIZ_ROLLOUT_ACTIVE"
BIZ_ROLLOUT_ENDED: Final = "BIZ_ROLLOUT_ENDED"

# --- onboarding ------------------------------------------------------------------------------------------------
RES_FLOW_NOT_FOUND: Final = "RES_FLOW_NOT_FOUND"
RES_FLOW_VERSION_NOT_FOUND: Final = "RES_FLOW_VERSION_NOT_FOUND"
RES_FLOW_EXISTS: Final = "RES_FLOW_EXISTS"
RES_STEP_NOT_FOUND: Final = "RES_STEP_NOT_FOUND"
RES_MIGRATION_NOT_FOUND: Final = "RES_MIGRATION_NOT_FOUND"
RES_ONBOARDING_NOT_FOUND: Final = "RES_ONBOARDING_NOT_FOUND"
BIZ_NO_DEFAULT_FLOW: Final = "BIZ_NO_DEFAULT_FLOW"
BIZ_FLOW_NOT_PUBLISHED: Final = "BIZ_FLOW_NOT_PUBLISHED"
BIZ_REQUIRED_STEP_NOT_SKIPPABLE: Final = "BIZ_REQUIRED_STEP_NOT_SKIPPABLE"
BIZ_STEP_OUT_OF_ORDER: Final = "BIZ_STEP_OUT_OF_ORDER"
BIZ_STEP_TRANSITION_INVALID: Final = "BIZ_STEP_TRANSITION_INVALID"
BIZ_STEP_HIDDEN: Final = "BIZ_STEP_HIDDEN"
BIZ_ONBOARDING_INCOMPLETE: Final = "BIZ_ONBOARDING_INCOMPLETE"
BIZ_ONBOARDING_FINISHED: Final = "BIZ_ONBOARDING_FINISHED"
VAL_STEP_MAP_INVALID: Final = "VAL_STEP_MAP_INVALID"

# --- analytics ------------------------------------------------------------------------------------------------
RES_ALERT_RULE_NOT_FOUND: Final = "RES_ALERT_RULE_NOT_FOUND"
RES_ALERT_RULE_EXISTS: Final = "RES_ALERT_RULE_EXISTS"
VAL_ALERT_RULE_ID_MISMATCH: Final = "VAL_ALERT_RULE_ID_MISMATCH"
VAL_ALERT_RULE_STEP_UNKNOWN: Final = "VAL_ALERT_RULE_STEP_UNKNOWN"

# --- privacy --------------------------------------------------------------------------------------------------
RES_POLICY_VERSION_EXISTS: Final = "RES_POLICY_VERSION_EXISTS"
RES_PRIVACY_REQUEST_NOT_FOUND: Final = "RES_PRIVACY_REQUEST_NOT_FOUND"
RES_VERIFICATION_CODE_EXPIRED: Final = "RES_VERIFICATION_CODE_EXPIRED"
PERM_VERIFICATION_CODE_INVALID: Final = "PERM_VERIFICATION_CODE_INVALID"
BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED: Final = "BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED"
BIZ_PRIVACY_REQUEST_STATE: Final = "BIZ_PRIVACY_REQUEST_STATE"
VAL_CONTACT_ADDRESS_MISSING: Final = "VAL_CONTACT_ADDRESS_MISSING"
BIZ_PROCESSING_RESTRICTED: Final = "BIZ_PROCESSING_RESTRICTED"

# --- failed work ----------------------------------------------------------------------------------------------
RES_TASK_NOT_FOUND: Final = "RES_TASK_NOT_FOUND"
BIZ_TASK_STATE: Final = "BIZ_TASK_STATE"
RES_WEBHOOK_NOT_FOUND: Final = "RES_WEBHOOK_NOT_FOUND"
VAL_WEBHOOK_URL_REFUSED: Final = "VAL_WEBHOOK_URL_REFUSED"
BIZ_WEBHOOK_LIMIT: Final = "BIZ_WEBHOOK_LIMIT"
RES_DELIVERY_NOT_FOUND: Final = "RES_DELIVERY_NOT_FOUND"

# --- backups ---------------------------------------------------------------------------------------------------
BIZ_DRILL_RUNNING: Final = "BIZ_DRILL_RUNNING"
BIZ_NO_BACKUP: Final = "BIZ_NO_BACKUP"
RES_DRILL_NOT_FOUND: Final = "RES_DRILL_NOT_FOUND"

# --- the local stack: what its gateway answers by itself (local/gateway.py) ------------------------------------
EXT_FUNCTION_TIMEOUT: Final = "EXT_FUNCTION_TIMEOUT"
VAL_URI_TOO_LONG: Final = "VAL_URI_TOO_LONG"
VAL_HEADERS_TOO_LARGE: Final = "VAL_HEADERS_TOO_LARGE"
SYS_STARTING: Final = "SYS_STARTING"
SYS_SEED_FAILED: Final = "SYS_SEED_FAILED"

FAMILIES: Final = ("AUTH", "PERM", "VAL", "RES", "RATE", "BIZ", "EXT", "SYS")
_CODE_NAME = re.compile(rf"^(?:{'|'.join(FAMILIES)})_[A-Z0-9_]+$")

ALL_CODES: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if _CODE_NAME.match(name) and value == name
)
"""Every code declared above."""


@dataclass(frozen=True)
class FieldIssue:
    """One problem with one field of what the caller sent: where it is (``body.step_map.2``), what is wrong, and
    a machine-readable kind (``unknown_source_step``)."""

    location: str
    message: str
    type: str


class DomainError(Exception):
    """A refusal or failure with a stable ``code`` and a ``detail`` a person can act on.

    ``fields`` lists the problems with single fields of the input; ``extensions`` is data the caller may use (the
    current state on a conflict, the steps still open); ``retry_after_seconds`` says how long to wait before trying
    again, when waiting helps. None of it says how the answer is shaped: the HTTP layer decides that from the code.
    """

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        fields: Sequence[FieldIssue] = (),
        extensions: Mapping[str, Any] | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.fields = tuple(fields)
        self.extensions: dict[str, Any] = dict(extensions or {})
        self.retry_after_seconds = retry_after_seconds

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.detail})"


# --- the platform's failures, raised by stores and the AWS clients -----------------------------------------------


class NotFoundError(DomainError):
    """The thing asked for does not exist (or is not visible to this caller); ``code`` names what kind of thing
    (``RES_CLIENT_NOT_FOUND``), ``RES_NOT_FOUND`` when the caller does not say."""

    def __init__(self, what: str, *, code: str = RES_NOT_FOUND) -> None:
        super().__init__(code, f"{what} was not found")
        self.what = what


class VersionConflictError(DomainError):
    """A conditional write lost: the item changed since the caller read it. ``current`` is the state the caller may
    see now (``None`` when it may see nothing), ``current_version`` its version."""

    def __init__(self, current: dict[str, Any] | None, current_version: int | None) -> None:
        super().__init__(
            RES_VERSION_CONFLICT,
            "The resource changed since you read it; the current state is included.",
            extensions={"current": current} if current is not None else None,
        )
        self.current = current
        self.current_version = current_version


class DependencyUnavailableError(DomainError):
    """An AWS dependency did not answer or refused the call. ``reason`` is for logs only: the caller learns which
    component failed, never why."""

    def __init__(self, component: str, reason: str, *, retry_after_seconds: int = 2) -> None:
        super().__init__(
            SYS_UNAVAILABLE, f"{component} is unavailable; retry later.", retry_after_seconds=retry_after_seconds
        )
        self.args = (f"{component} is unavailable: {reason}",)
        self.component = component
        self.reason = reason


class ItemRefusedError(DomainError):
    """A write DynamoDB would refuse for what it holds (too large, too deep, an unstorable number, an empty name or
    key): the request is at fault, not the table. ``limit`` names the rule; ``detail`` says it to a client."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(VAL_TOO_LARGE if limit in ("item_size", "key_size") else VAL_UNSTORABLE_VALUE, detail)
        self.limit = limit

    @property
    def too_large(self) -> bool:
        """Whether the refusal is about size rather than content."""
        return self.code == VAL_TOO_LARGE


class RateLimitedError(DomainError):
    """A caller spent its allowance for the current window: ``limit`` requests per window, ``remaining`` left,
    the window resets in ``reset_seconds``, and the caller may retry after ``retry_after_seconds``."""

    def __init__(self, *, limit: int, remaining: int, reset_seconds: int, retry_after_seconds: int) -> None:
        super().__init__(
            RATE_LIMITED,
            f"Too many requests; retry in {retry_after_seconds} seconds.",
            retry_after_seconds=retry_after_seconds,
        )
        self.limit = limit
        self.remaining = remaining
        self.reset_seconds = reset_seconds
