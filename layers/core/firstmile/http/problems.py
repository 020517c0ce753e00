"""RFC 9457 problem details with Firstmile's stable error codes.

Domain code raises ``Problem`` (or a subclass); the resolver turns it into ``application/problem+json`` in one
place. Codes are stable API: clients switch on ``code``, never on ``title`` or ``detail``.
The taxonomy: AUTH_* 401, PERM_* 403, VAL_* 400/413/414/415/422/431, RES_* 404/409/410, RATE_* 429, BIZ_* 400/409,
EXT_* 502-504, SYS_* 500/503.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:firstmile:problem:"


@dataclass(frozen=True)
class ErrorCode:
    """One entry of the taxonomy: a stable code, its HTTP status and a fixed human title."""

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

CODES: dict[str, ErrorCode] = {}


def register_code(code: str, status: int, title: str) -> ErrorCode:
    """Add a code to the taxonomy; refuses a status that does not belong to the code's family."""
    family = code.split("_", 1)[0]
    if status not in _PREFIX_STATUSES.get(family, set()):
        raise ValueError(f"{code}: status {status} does not fit the {family}_* family")
    if code in CODES and CODES[code] != ErrorCode(code, status, title):
        raise ValueError(f"{code} is already registered differently")
    CODES[code] = ErrorCode(code, status, title)
    return CODES[code]


AUTH_UNAUTHENTICATED = register_code("AUTH_UNAUTHENTICATED", 401, "Authentication required")
# The authorizer's verdicts on an access token; every HTTP function answers them (firstmile.entrypoints).
AUTH_TOKEN_MALFORMED = register_code("AUTH_TOKEN_MALFORMED", 401, "Malformed access token")
AUTH_TOKEN_INVALID = register_code("AUTH_TOKEN_INVALID", 401, "Invalid access token")
AUTH_TOKEN_EXPIRED = register_code("AUTH_TOKEN_EXPIRED", 401, "Access token expired")
AUTH_TOKEN_REVOKED = register_code("AUTH_TOKEN_REVOKED", 401, "Access token revoked")
PERM_FORBIDDEN = register_code("PERM_FORBIDDEN", 403, "Not allowed")
VAL_BAD_REQUEST = register_code("VAL_BAD_REQUEST", 400, "Malformed request")
VAL_BODY_TOO_DEEP = register_code("VAL_BODY_TOO_DEEP", 400, "Request body nested too deeply")
VAL_MEDIA_TYPE_UNSUPPORTED = register_code("VAL_MEDIA_TYPE_UNSUPPORTED", 415, "Unsupported media type")
VAL_TOO_LARGE = register_code("VAL_TOO_LARGE", 413, "Content too large")
VAL_UNSTORABLE_VALUE = register_code("VAL_UNSTORABLE_VALUE", 422, "Value cannot be stored")
VAL_REQUEST_INVALID = register_code("VAL_REQUEST_INVALID", 422, "Request failed validation")
VAL_CURSOR_INVALID = register_code("VAL_CURSOR_INVALID", 400, "Invalid pagination cursor")
VAL_IF_MATCH_INVALID = register_code("VAL_IF_MATCH_INVALID", 400, "Invalid If-Match header")
VAL_IDEMPOTENCY_KEY_INVALID = register_code("VAL_IDEMPOTENCY_KEY_INVALID", 400, "Invalid Idempotency-Key")
VAL_IDEMPOTENCY_KEY_REUSED = register_code(
    "VAL_IDEMPOTENCY_KEY_REUSED", 422, "Idempotency-Key reused with a different request"
)
RES_NOT_FOUND = register_code("RES_NOT_FOUND", 404, "Resource not found")
RES_ROUTE_NOT_FOUND = register_code("RES_ROUTE_NOT_FOUND", 404, "No such route")
RES_VERSION_CONFLICT = register_code("RES_VERSION_CONFLICT", 409, "The resource has changed")
RES_PRECONDITION_REQUIRED = register_code(
    "RES_PRECONDITION_REQUIRED", 428, "This change needs If-Match with the version it was made on"
)
RES_REQUEST_IN_PROGRESS = register_code("RES_REQUEST_IN_PROGRESS", 409, "The same request is still in progress")
RATE_LIMITED = register_code("RATE_LIMITED", 429, "Too many requests")
EXT_DEPENDENCY_FAILED = register_code("EXT_DEPENDENCY_FAILED", 502, "A dependency failed")
SYS_INTERNAL = register_code("SYS_INTERNAL", 500, "Internal error")
SYS_UNAVAILABLE = register_code("SYS_UNAVAILABLE", 503, "Service unavailable")


class FieldProblem(BaseModel):
    """One problem with one field of the request."""

    location: str = Field(description="Where the field is, e.g. body.name or query.limit")
    message: str
    type: str


class ProblemDetails(BaseModel):
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
        error: ErrorCode,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.error = error
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
            body["errors"] = [e.model_dump() for e in self.errors]
        body.update(self.extensions)
        return body


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
