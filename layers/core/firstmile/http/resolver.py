"""The resolver every HTTP function uses: validation on (strict for JSON bodies), problems and domain errors mapped
in one place."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from firstmile import errors as e
from firstmile.http import problems as p
from firstmile.observability import logger, metrics

_strict_adapters: dict[int, TypeAdapter[Any]] = {}


def create_app() -> APIGatewayHttpResolver:
    """A Powertools HTTP API resolver with request validation and Firstmile's problem mapping."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def respond(problem: p.Problem) -> Response[str]:
        return problem_response(problem, _request_id(app))

    def _problem(exc: p.Problem) -> Response[str]:
        return respond(exc)

    def _invalid(exc: RequestValidationError) -> Response[str]:
        if any(tuple(err.get("loc", ()))[:1] == ("response",) for err in exc.errors()):
            # Powertools reports a response that fails its model like a request error; it is our fault, not the
            # client's: answer 500 and log what did not match.
            logger.error("response failed validation", extra={"errors": exc.errors()})
            return respond(
                p.Problem(e.SYS_INTERNAL, "An unexpected error occurred; quote the instance id when reporting it.")
            )
        errors = [_field_problem(err) for err in exc.errors()]
        if any(err.type == "json_invalid" for err in errors):
            return respond(p.Problem(e.VAL_BAD_REQUEST, "The request body is not valid JSON.", errors=errors))
        return respond(p.Problem(e.VAL_REQUEST_INVALID, "Some fields of the request are invalid.", errors=errors))

    def _no_route(_: RouteNotFoundError) -> Response[str]:
        return respond(p.Problem(e.RES_ROUTE_NOT_FOUND, "No route matches this method and path."))

    def _domain(exc: e.DomainError) -> Response[str]:
        if isinstance(exc, e.DependencyUnavailableError):
            logger.warning("dependency unavailable", extra={"component": exc.component, "reason": exc.reason})
        return respond(p.problem_for(exc))

    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        metrics.add_metric(name="UnhandledErrors", unit="Count", value=1)
        return respond(
            p.Problem(e.SYS_INTERNAL, "An unexpected error occurred; quote the instance id when reporting it.")
        )

    app.exception_handler(p.Problem)(_problem)
    app.exception_handler(RequestValidationError)(_invalid)
    app.not_found(_no_route)
    app.exception_handler(e.DomainError)(_domain)
    app.exception_handler(Exception)(_unexpected)
    app.use([_strict_body])
    return app


def _strict_body(app: APIGatewayHttpResolver, next_middleware: Callable[[APIGatewayHttpResolver], Any]) -> Any:
    """Validate the JSON body again in pydantic's strict JSON mode, after Powertools' (lax) validation passed.

    Lax validation turns ``0`` into ``false``, ``"1"`` into ``1`` and ``1.0`` into ``1``; a client that sends those
    has a bug that should surface, not a value chosen for it (docs/decisions/0008-strict-request-validation.md).
    Strict JSON mode still reads what JSON cannot say natively: enums from their values, dates from ISO text,
    tuples from arrays.
    """
    route = app.context.get("_route")
    fields = list(route.dependant.body_params) if route is not None else []
    body = app.current_event.body
    if fields and body:
        errors: list[dict[str, Any]] = []
        embedded = len(fields) > 1 or bool(getattr(fields[0].field_info, "embed", False))
        data = json.loads(body) if embedded else None
        for field in fields:
            text = json.dumps(data.get(field.alias) if isinstance(data, dict) else None) if embedded else body
            try:
                _strict_adapter(field).validate_json(text, strict=True)
            except ValidationError as exc:
                prefix = ("body", field.alias) if embedded else ("body",)
                errors += [{**err, "loc": (*prefix, *err["loc"])} for err in exc.errors(include_url=False)]
        if errors:
            raise RequestValidationError(errors)
    return next_middleware(app)


def _strict_adapter(field: Any) -> TypeAdapter[Any]:
    if id(field) not in _strict_adapters:
        _strict_adapters[id(field)] = TypeAdapter(Annotated[field.field_info.annotation, field.field_info])
    return _strict_adapters[id(field)]


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
    kind = str(error.get("type"))
    message = str(error.get("msg", "invalid"))
    if kind == "union_tag_invalid":
        # Pydantic quotes the input's Python form here ("Input tag '['x']' ..."); name only what is expected.
        message = f"Input should be one of {(error.get('ctx') or {}).get('expected_tags', 'the documented values')}"
    return p.FieldProblem(location=location, message=message, type=kind)
