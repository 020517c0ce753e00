"""RFC 9457 problem details: the one table that says what each stable code means on the wire.

Domain code raises ``firstmile.errors.DomainError`` with a code declared in ``firstmile.errors``; the HTTP layer
(``problem_for``, used by the resolver and the entry point) turns it into ``application/problem+json`` here, with the
status and title of the code's row. HTTP code raises ``Problem`` directly. Codes are stable API: clients switch on
``code``, never on ``title`` or ``detail``.
The taxonomy: AUTH_* 401, PERM_* 403, VAL_* 400/413/414/415/422/431, RES_* 404/409/410/428, RATE_* 429, BIZ_* 400/409,
EXT_* 502-504, SYS_* 500/503.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from firstmile import errors as e
from firstmile.http.headers import etag_for, rate_limit_headers
from firstmile.model import Model

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:firstmile:problem:"


@dataclass(frozen=True)
class ErrorCode:
    """One row of the table: a stable code, its HTTP status and a fixed human title."""

    code: str
    status: int
    title: str


_PREFIX_STATUSES = {
    "AUTH": {401},
    "PERM": {403},
    "VAL": {400, 413, 414, 415, 422, 431},
    "RES": {404, 409, 410, 428},
    "RATE": {429},
    "BIZ": {400, 409},
    "EXT": {502, 503, 504},
    "SYS": {500, 503},
}

# Every code of firstmile.errors with the status and the title a client sees (a unit test keeps the two in step).
TABLE: dict[str, tuple[int, str]] = {
    # requests
    e.AUTH_UNAUTHENTICATED: (401, "Authentication required"),
    e.PERM_FORBIDDEN: (403, "Not allowed"),
    e.VAL_BAD_REQUEST: (400, "Malformed request"),
    e.VAL_BODY_TOO_DEEP: (400, "Request body nested too deeply"),
    e.VAL_MEDIA_TYPE_UNSUPPORTED: (415, "Unsupported media type"),
    e.VAL_REQUEST_INVALID: (422, "Request failed validation"),
    e.VAL_IF_MATCH_INVALID: (400, "Invalid If-Match header"),
    e.VAL_IDEMPOTENCY_KEY_INVALID: (400, "Invalid Idempotency-Key"),
    e.VAL_IDEMPOTENCY_KEY_REUSED: (422, "Idempotency-Key reused with a different request"),
    e.RES_ROUTE_NOT_FOUND: (404, "No such route"),
    e.RES_PRECONDITION_REQUIRED: (428, "This change needs If-Match with the version it was made on"),
    e.RES_REQUEST_IN_PROGRESS: (409, "The same request is still in progress"),
    e.SYS_INTERNAL: (500, "Internal error"),
    # the platform
    e.RES_NOT_FOUND: (404, "Resource not found"),
    e.RES_VERSION_CONFLICT: (409, "The resource has changed"),
    e.VAL_TOO_LARGE: (413, "Content too large"),
    e.VAL_UNSTORABLE_VALUE: (422, "Value cannot be stored"),
    e.VAL_CURSOR_INVALID: (400, "Invalid pagination cursor"),
    e.RATE_LIMITED: (429, "Too many requests"),
    e.EXT_DEPENDENCY_FAILED: (502, "A dependency failed"),
    e.SYS_UNAVAILABLE: (503, "Service unavailable"),
    # identity
    e.AUTH_TOKEN_MALFORMED: (401, "Malformed access token"),
    e.AUTH_TOKEN_INVALID: (401, "Invalid access token"),
    e.AUTH_TOKEN_EXPIRED: (401, "Access token expired"),
    e.AUTH_TOKEN_REVOKED: (401, "Access token revoked"),
    e.AUTH_REFRESH_INVALID: (401, "Invalid refresh token"),
    e.AUTH_REFRESH_EXPIRED: (401, "Session expired"),
    e.AUTH_REFRESH_REVOKED: (401, "Session revoked"),
    e.AUTH_REFRESH_SUPERSEDED: (401, "Refresh token already rotated"),
    e.AUTH_REFRESH_REUSED: (401, "Refresh token reused; session revoked"),
    e.AUTH_REFRESH_MISSING: (401, "Refresh token required"),
    e.AUTH_CLIENT_INVALID: (401, "Invalid client credentials"),
    e.PERM_ROLE_NOT_ALLOWED: (403, "Role not allowed for this client"),
    e.PERM_CSRF_REJECTED: (403, "Cross-site request refused"),
    e.RES_TENANT_EXISTS: (409, "Tenant already exists"),
    e.RES_TENANT_NOT_FOUND: (404, "Tenant not found"),
    e.RES_CLIENT_NOT_FOUND: (404, "API client not found"),
    # feature flags
    e.RES_FLAG_NOT_FOUND: (404, "Flag not found"),
    e.RES_FLAG_EXISTS: (409, "Flag already exists"),
    e.RES_FLAG_VERSION_NOT_FOUND: (404, "Flag version not found"),
    e.RES_SEGMENT_NOT_FOUND: (404, "Segment not found"),
    e.RES_ROLLOUT_NOT_FOUND: (404, "The flag has no rollout plan"),
    e.VAL_FLAG_KEY_MISMATCH: (422, "The body names another key than the path"),
    e.VAL_SEGMENT_KEY_MISMATCH: (422, "The body names another segment key than the path"),
    e.VAL_ATTRIBUTE_NOT_ALLOWED: (422, "The tenant does not let clients supply this attribute"),
    e.VAL_ROLLOUT_RULE_INVALID: (422, "The flag has no such rule to roll out"),
    e.VAL_ROLLOUT_STEPS_INVALID: (422, "A rollout's first step is below the rule's current percentage"),
    e.VAL_FLAG_PREREQUISITE_CYCLE: (422, "Flag prerequisites form a cycle"),
    e.VAL_FLAG_PREREQUISITE_DEPTH: (422, "Flag prerequisites are nested too deeply"),
    e.VAL_FLAG_REFERENCE_INVALID: (422, "A flag refers to a flag, variant or segment that does not exist"),
    e.BIZ_ROLLOUT_ACTIVE: (409, "The flag already has an active rollout plan"),
    e.BIZ_ROLLOUT_ENDED: (409, "The rollout plan has already ended"),
    # onboarding
    e.RES_FLOW_NOT_FOUND: (404, "Flow not found"),
    e.RES_FLOW_VERSION_NOT_FOUND: (404, "Flow version not found"),
    e.RES_FLOW_EXISTS: (409, "Flow already exists"),
    e.RES_STEP_NOT_FOUND: (404, "Step not found"),
    e.RES_MIGRATION_NOT_FOUND: (404, "Migration not found"),
    e.RES_ONBOARDING_NOT_FOUND: (404, "User has no onboarding"),
    e.BIZ_NO_DEFAULT_FLOW: (409, "The tenant has no default onboarding flow"),
    e.BIZ_FLOW_NOT_PUBLISHED: (409, "The flow has no published version"),
    e.BIZ_REQUIRED_STEP_NOT_SKIPPABLE: (409, "A required step cannot be skipped"),
    e.BIZ_STEP_OUT_OF_ORDER: (409, "Earlier required steps are still open"),
    e.BIZ_STEP_TRANSITION_INVALID: (409, "The step cannot make that change"),
    e.BIZ_STEP_HIDDEN: (409, "The step is hidden for this user"),
    e.BIZ_ONBOARDING_INCOMPLETE: (409, "Required steps are still open"),
    e.BIZ_ONBOARDING_FINISHED: (409, "Onboarding is already finished"),
    e.VAL_STEP_MAP_INVALID: (422, "The step map does not fit the two versions"),
    # analytics
    e.RES_ALERT_RULE_NOT_FOUND: (404, "Alert rule not found"),
    e.RES_ALERT_RULE_EXISTS: (409, "Alert rule already exists"),
    e.VAL_ALERT_RULE_ID_MISMATCH: (422, "The body names another rule than the path"),
    e.VAL_ALERT_RULE_STEP_UNKNOWN: (422, "The flow has no such step"),
    # privacy
    e.RES_POLICY_VERSION_EXISTS: (409, "This policy version is already published"),
    e.RES_PRIVACY_REQUEST_NOT_FOUND: (404, "Privacy request not found"),
    e.RES_VERIFICATION_CODE_EXPIRED: (410, "The verification code has expired"),
    e.PERM_VERIFICATION_CODE_INVALID: (403, "Wrong verification code"),
    e.BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED: (409, "Too many wrong codes: make a new request"),
    e.BIZ_PRIVACY_REQUEST_STATE: (409, "The privacy request is not in a state for this"),
    e.RES_TASK_NOT_FOUND: (404, "Dead-letter task not found"),
    e.BIZ_TASK_STATE: (409, "The dead-letter task is not in a state for this"),
    e.RES_WEBHOOK_NOT_FOUND: (404, "Webhook endpoint not found"),
    e.VAL_WEBHOOK_URL_REFUSED: (422, "Webhooks are not sent to this address"),
    e.BIZ_WEBHOOK_LIMIT: (409, "Too many webhook endpoints"),
    e.BIZ_DRILL_RUNNING: (409, "A restore drill is still running"),
    e.BIZ_NO_BACKUP: (409, "There is no backup to restore"),
    e.RES_DRILL_NOT_FOUND: (404, "Restore drill not found"),
    e.RES_DELIVERY_NOT_FOUND: (404, "Webhook delivery not found"),
    e.VAL_CONTACT_ADDRESS_MISSING: (422, "No address to send the code to"),
    e.BIZ_PROCESSING_RESTRICTED: (409, "The user restricted the processing of their data"),
    # the local stack's gateway
    e.EXT_FUNCTION_TIMEOUT: (504, "The function did not answer in time"),
    e.VAL_URI_TOO_LONG: (414, "Request line too long"),
    e.VAL_HEADERS_TOO_LARGE: (431, "Request header fields too large"),
    e.SYS_STARTING: (503, "The local stack is starting"),
    e.SYS_SEED_FAILED: (503, "The local demo data could not be seeded"),
}

CODES: dict[str, ErrorCode] = {}


def register_code(code: str, status: int, title: str) -> ErrorCode:
    """Add a row to the table; refuses a status that does not belong to the code's family, and a code already
    registered differently (registering the same row again is harmless)."""
    family = code.split("_", 1)[0]
    if status not in _PREFIX_STATUSES.get(family, set()):
        raise ValueError(f"{code}: status {status} does not fit the {family}_* family")
    if code in CODES and CODES[code] != ErrorCode(code, status, title):
        raise ValueError(f"{code} is already registered differently")
    CODES[code] = ErrorCode(code, status, title)
    return CODES[code]


for _code, (_status, _title) in TABLE.items():
    register_code(_code, _status, _title)


def __getattr__(name: str) -> ErrorCode:
    """``problems.SYS_INTERNAL`` and the like: the row of a code, for HTTP code that answers with it directly."""
    if name in CODES:
        return CODES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def error_code(code: str) -> ErrorCode:
    """The row of ``code``; ``SYS_INTERNAL``'s for a code the table lacks (a unit test keeps that from happening)."""
    return CODES.get(code) or CODES[e.SYS_INTERNAL]


class FieldProblem(Model):
    """One problem with one field of the request."""

    location: str = Field(description="Where the field is, e.g. body.name or query.limit")
    message: str
    type: str


class ProblemDetails(Model):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI identifying the problem type")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request id, to quote when reporting the problem")
    code: str = Field(description="Stable machine-readable code from the Firstmile taxonomy")
    errors: list[FieldProblem] | None = None


class Problem(Exception):  # noqa: N818 - it is a problem document, not an error of the code
    """A failure the client should see, as problem+json with a stable code."""

    def __init__(
        self,
        error: ErrorCode | str,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.error = error if isinstance(error, ErrorCode) else error_code(error)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions or {}

    def document(self, instance: str) -> dict[str, Any]:
        """The problem document as JSON-ready data."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + self.error.code,
            "title": self.error.title,
            "status": self.error.status,
            "detail": self.detail,
            "instance": instance,
            "code": self.error.code,
        }
        if self.errors:
            body["errors"] = [field.model_dump() for field in self.errors]
        body.update(self.extensions)
        return body


def problem_for(error: e.DomainError) -> Problem:
    """The problem a domain error answers: the status and title of its code's row, its detail, field problems and
    extension data as members of the document; how long to wait as ``Retry-After``, a rate limit's numbers as
    ``RateLimit-*``, a conflict's current version as ``ETag``."""
    if error.code not in CODES:
        from firstmile.observability import logger

        logger.error("a domain error's code has no row in the table", extra={"code": error.code})
        return Problem(e.SYS_INTERNAL, "An unexpected error occurred; quote the instance id when reporting it.")
    headers: dict[str, str] = {}
    if isinstance(error, e.RateLimitedError):
        headers = rate_limit_headers(error.limit, error.remaining, error.reset_seconds, error.retry_after_seconds)
    elif error.retry_after_seconds is not None:
        headers["Retry-After"] = str(error.retry_after_seconds)
    if isinstance(error, e.VersionConflictError) and error.current_version is not None:
        headers["ETag"] = etag_for(error.current_version)
    fields = [FieldProblem(location=f.location, message=f.message, type=f.type) for f in error.fields]
    return Problem(error.code, error.detail, errors=fields or None, headers=headers, extensions=error.extensions)


def problem_responses(
    *statuses: int, ok: int = 200, ok_description: str = "OK", ok_headers: tuple[str, ...] = ()
) -> dict[int, OpenAPIResponse]:
    """OpenAPI ``responses`` of a route: its success answer (with ``ok_headers``, e.g. ``ETag``, ``Location``) and
    every problem it can return.

    The success entry takes its schema from the route's return type. 422 (invalid request), 500 (unexpected error)
    and 503 (a dependency unavailable) are declared for every route, since the resolver can answer them anywhere;
    422 replaces the ``application/json`` 422 that Powertools would otherwise document but Firstmile never sends.
    """
    from firstmile.http.documentation import response_headers

    documented: dict[int, OpenAPIResponse] = {ok: {"description": ok_description}}
    if ok_headers:
        documented[ok]["headers"] = response_headers(*ok_headers)  # type: ignore[typeddict-item]
    for status in sorted({*statuses, 422, 500, 503}):
        documented[status] = {
            "description": _describe(status),
            "content": {PROBLEM_CONTENT_TYPE: {"model": ProblemDetails}},
        }
    return documented


_STATUS_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Authentication required or failed",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    410: "Gone",
    413: "Content too large",
    414: "Request line too long",
    415: "Unsupported media type",
    422: "Request failed validation",
    428: "Precondition required",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal error",
    502: "A dependency failed",
    503: "Unavailable",
    504: "A dependency timed out",
}


def _describe(status: int) -> str:
    # Fixed per status, so the OpenAPI document does not change with the set of codes a process has imported.
    return "Problem: " + _STATUS_DESCRIPTIONS.get(status, "see code")
