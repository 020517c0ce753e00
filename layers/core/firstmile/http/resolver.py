"""The resolver every HTTP function uses: validation on, problems mapped in one place."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from firstmile.http import problems as p
from firstmile.http.versioning import etag_for
from firstmile.observability import logger, metrics
from firstmile.platform.errors import DependencyUnavailableError, NotFoundError, VersionConflictError


def create_app() -> APIGatewayHttpResolver:
    """A Powertools HTTP API resolver with request validation and Firstmile's problem mapping."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def respond(problem: p.Problem) -> Response[str]:
        return problem_response(problem, _request_id(app))

    def _problem(exc: p.Problem) -> Response[str]:
        return respond(exc)

    def _invalid(exc: RequestValidationError) -> Response[str]:
        if any(tuple(e.get("loc", ()))[:1] == ("response",) for e in exc.errors()):
            # Powertools reports a response that fails its model like a request error; it is our fault, not the
            # client's: answer 500 and log what did not match.
            logger.error("response failed validation", extra={"errors": exc.errors()})
            return respond(
                p.Problem(p.SYS_INTERNAL, "An unexpected error occurred; quote the instance id when reporting it.")
            )
        errors = [_field_problem(e) for e in exc.errors()]
        if any(e.type == "json_invalid" for e in errors):
            return respond(p.Problem(p.VAL_BAD_REQUEST, "The request body is not valid JSON.", errors=errors))
        return respond(p.Problem(p.VAL_REQUEST_INVALID, "Some fields of the request are invalid.", errors=errors))

    def _no_route(_: RouteNotFoundError) -> Response[str]:
        return respond(p.Problem(p.RES_ROUTE_NOT_FOUND, "No route matches this method and path."))

    def _missing(exc: NotFoundError) -> Response[str]:
        return respond(p.Problem(p.RES_NOT_FOUND, str(exc)))

    def _conflict(exc: VersionConflictError) -> Response[str]:
        headers = {"ETag": etag_for(exc.current_version)} if exc.current_version is not None else {}
        extensions = {"current": exc.current} if exc.current is not None else {}
        return respond(
            p.Problem(
                p.RES_VERSION_CONFLICT,
                "The resource changed since you read it; the current state is included.",
                headers=headers,
                extensions=extensions,
            )
        )

    def _dependency(exc: DependencyUnavailableError) -> Response[str]:
        logger.warning("dependency unavailable", extra={"component": exc.component, "reason": exc.reason})
        return respond(p.Problem(p.SYS_UNAVAILABLE, f"{exc.component} is unavailable; retry later."))

    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        metrics.add_metric(name="UnhandledErrors", unit="Count", value=1)
        return respond(
            p.Problem(p.SYS_INTERNAL, "An unexpected error occurred; quote the instance id when reporting it.")
        )

    app.exception_handler(p.Problem)(_problem)
    app.exception_handler(RequestValidationError)(_invalid)
    app.not_found(_no_route)
    app.exception_handler(NotFoundError)(_missing)
    app.exception_handler(VersionConflictError)(_conflict)
    app.exception_handler(DependencyUnavailableError)(_dependency)
    app.exception_handler(Exception)(_unexpected)
    return app


def problem_response(problem: p.Problem, request_id: str) -> Response[str]:
    """A problem as a Powertools response with the problem+json content type."""
    return Response(
        status_code=problem.error.status,
        content_type=p.PROBLEM_CONTENT_TYPE,
        body=json.dumps(problem.document(request_id)),
        headers=dict(problem.headers),
    )


def _request_id(app: APIGatewayHttpResolver) -> str:
    try:
        return str(app.current_event.request_context.request_id or "")
    except (AttributeError, KeyError, TypeError):
        return ""


def _field_problem(error: dict[str, Any]) -> p.FieldProblem:
    location = ".".join(str(part) for part in error.get("loc", ()))
    return p.FieldProblem(location=location, message=str(error.get("msg", "invalid")), type=str(error.get("type")))
