"""The outermost layer of every function: decorators in a fixed order, headers, roles, batch semantics.

A handler module builds its resolver (or record handler) and exposes ``lambda_handler = entrypoints.http(app)``
(or ``job`` / ``sqs_batch`` / ``stream_batch``). The order is always: logger context -> metrics -> tracer ->
Firstmile's own wrapper, so every function logs, measures and traces the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from firstmile import errors as e
from firstmile.config import Settings, get_settings
from firstmile.http import headers as h
from firstmile.http import problems as p
from firstmile.http.auth import AuthContext, auth_from_event
from firstmile.observability import logger, metrics, tracer

# The HTTP resolver and the batch utilities are imported only where a function of that kind needs them: a
# scheduled function should not pay for loading either at cold start (docs/performance.md).
if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.batch import EventType

    from firstmile.http.bodies import FormReader

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# The authorizer's context key naming why a token was refused (an AUTH_* or SYS_* code).
AUTH_ERROR_KEY = "auth_error"
# What a 401 answers when the route named no challenge of its own (RFC 9110 section 11.6.1 requires one).
BEARER_CHALLENGE = 'Bearer realm="firstmile"'


def _instrumented(fn: Handler) -> Handler:
    traced = tracer.capture_lambda_handler(fn)
    measured = metrics.log_metrics(capture_cold_start_metric=True)(traced)
    return logger.inject_lambda_context(clear_state=True)(measured)  # type: ignore[no-any-return]


def http(app: APIGatewayHttpResolver, *, form: FormReader | None = None) -> Handler:
    """The Lambda entry point of an HTTP function served by ``app``.

    Request bodies are admitted here for every route (``firstmile.http.bodies``): JSON only, unless ``form`` is
    given, which turns an ``application/x-www-form-urlencoded`` body into the JSON the route reads.
    """

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_headers = event.get("headers") or {}
        correlation_id = h.correlation_id_from(request_headers)
        logger.set_correlation_id(correlation_id)
        auth = auth_from_event(event)
        if auth is not None:
            logger.append_keys(tenant=auth.tenant)
        settings = _settings_or_none()
        refusal = _refuse(settings, auth, event) or _admit(event, form)
        limit_headers: dict[str, str] = {}
        if refusal is None and settings is not None and settings.route_rate_class and auth is not None:
            refusal, limit_headers = _count(settings.route_rate_class, auth, event)
        response = refusal if refusal is not None else app.resolve(event, context)
        response = {**response, "headers": {**(response.get("headers") or {}), **limit_headers}}
        allowed_origins = settings.cors_allow_origins if settings else ()
        return _finish(response, correlation_id, h.header(request_headers, "origin"), allowed_origins)

    return _instrumented(handle)


def _settings_or_none() -> Settings | None:
    try:
        return get_settings()
    except Exception:
        # A broken configuration must not crash every request: /health/startup reports what is wrong.
        logger.exception("configuration could not be loaded")
        return None


def _refuse(settings: Settings | None, auth: AuthContext | None, event: dict[str, Any]) -> dict[str, Any] | None:
    """Defence in depth: the function checks the catalogue's role even though the authorizer did too.

    Without a loadable configuration only public routes run (fail closed).
    """
    role = settings.route_role if settings else os.environ.get("FIRSTMILE_ROUTE_ROLE", "public")
    if role == "public":
        return None
    request_id = str((event.get("requestContext") or {}).get("requestId", ""))
    if settings is None:
        problem = p.Problem(e.SYS_UNAVAILABLE, "This function's configuration is invalid; see /health/startup.")
    elif auth is None:
        problem = _unauthenticated(event)
    elif not auth.has_role(settings.route_role):
        problem = p.Problem(e.PERM_FORBIDDEN, f"This route needs the {role} role.")
    else:
        return None
    return _problem_answer(problem, request_id)


def _admit(event: dict[str, Any], form: FormReader | None) -> dict[str, Any] | None:
    """``None`` when the request's body may go on to the resolver, else the problem answer refusing it."""
    from firstmile.http.bodies import admit_body  # HTTP functions only: jobs and consumers never load it

    try:
        admit_body(event, form=form)
    except p.Problem as problem:
        return _problem_answer(problem, str((event.get("requestContext") or {}).get("requestId", "")))
    return None


def _count(route_class: str, auth: AuthContext, event: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Count the request against the route's rate limit: a 429 (or fail-closed 503) answer, or the headers."""
    # Imported here: only rate-limited functions load the limiter and its store.
    from firstmile.composition import container
    from firstmile.limits.models import LimitSubject, RouteClass

    try:
        decision = container().rate_limiter.enforce(
            RouteClass(route_class), LimitSubject.user(auth.tenant, auth.subject)
        )
    except e.DomainError as error:
        problem = p.problem_for(error)
        return _problem_answer(problem, str((event.get("requestContext") or {}).get("requestId", ""))), {}
    return None, h.rate_limit_headers(
        decision.limit, decision.remaining, decision.reset_seconds, decision.retry_after_seconds
    )


def _problem_answer(problem: p.Problem, request_id: str) -> dict[str, Any]:
    headers = {"Content-Type": p.PROBLEM_CONTENT_TYPE, **problem.headers}
    return {
        "statusCode": problem.error.status,
        "headers": headers,
        "body": json.dumps(problem.document(request_id)),
        "isBase64Encoded": False,
    }


def _unauthenticated(event: dict[str, Any]) -> p.Problem:
    """Why there is no caller: the authorizer names the refused token's code (it never says which check failed)."""
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    error = p.CODES.get(str(context.get(AUTH_ERROR_KEY, "")))
    if error is None or error.status not in (401, 503):
        return p.Problem(e.AUTH_UNAUTHENTICATED, "This route needs a valid access token.")
    if error.status == 503:
        return p.Problem(
            error, "The access token could not be checked right now; retry shortly.", headers={"Retry-After": "5"}
        )
    return p.Problem(
        error,
        "The access token was refused; obtain a new one.",
        headers={"WWW-Authenticate": 'Bearer realm="firstmile", error="invalid_token"'},
    )


def _finish(
    response: dict[str, Any], correlation_id: str, origin: str | None, allowed_origins: tuple[str, ...]
) -> dict[str, Any]:
    headers = dict(response.get("headers") or {})
    present = {k.lower() for k in headers}
    additions = {
        **h.SECURITY_HEADERS,
        "Cache-Control": h.DEFAULT_CACHE_CONTROL,
        **h.cors_headers(origin, allowed_origins),
    }
    if response.get("statusCode") == 401:
        additions["WWW-Authenticate"] = BEARER_CHALLENGE
    for name, value in additions.items():
        if name.lower() not in present:
            headers[name] = value
    headers[h.CORRELATION_HEADER] = correlation_id
    return {**response, "headers": headers}


def job(run: Callable[[dict[str, Any]], dict[str, Any]]) -> Handler:
    """The entry point of a scheduled function: ``run`` gets the schedule event, returns a summary."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            summary = run(event)
        except Exception as error:
            # Retried by the scheduler, then its dead-letter queue: the run's record says what failed (decision 0090).
            name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "unknown")
            attempt = int((event.get("detail") or {}).get("attempt-number", 1) or 1)
            _record_failure(f"schedule:{name}", str(event.get("id") or "unknown"), error, event, attempt)
            raise
        logger.info("job finished", extra={"summary": summary})
        return summary

    return _instrumented(handle)


def authorizer(decide: Callable[[dict[str, Any]], dict[str, Any]]) -> Handler:
    """The entry point of the HTTP API's Lambda authorizer: ``decide`` maps the request to a simple response."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return decide(event)

    return _instrumented(handle)


def sqs_batch(record_handler: Callable[[Any], None]) -> Handler:
    """The entry point of a queue consumer with partial batch failures: failed records return to the queue, each
    failure recorded first (decision 0090), so a message that reaches the dead-letter queue has its record."""
    from aws_lambda_powertools.utilities.batch import EventType

    def recorded(record: Any) -> None:
        try:
            record_handler(record)
        except Exception as error:
            queue = str(record.event_source_arn or "").rsplit(":", 1)[-1] or "unknown"
            attempt = int(record.attributes.approximate_receive_count or 1)
            _record_failure(f"queue:{queue}", record.message_id, error, record.body, attempt)
            raise

    return _batch(EventType.SQS, recorded)


def _record_failure(source: str, message_id: str, error: BaseException, body: Any, attempt: int) -> None:
    # Loaded only when something failed: a cold start never pays for it.
    from firstmile.composition import container
    from firstmile.failures.recording import record_failure

    record_failure(source, message_id, error, body, attempt, store=lambda f: container().failure_store.record(f))


def stream_batch(record_handler: Callable[[Any], None]) -> Handler:
    """The entry point of a table-stream consumer with partial batch failures (bisect on the failed record)."""
    from aws_lambda_powertools.utilities.batch import EventType

    return _batch(EventType.DynamoDBStreams, record_handler)


def stream_in_order(consume: Callable[[list[dict[str, Any]]], list[dict[str, str]]]) -> Handler:
    """The entry point of a table-stream consumer that takes its batch whole, in the shard's order, and answers the
    partial batch response's failures itself (at most the record it stopped at: the stream resumes from there)."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return {"batchItemFailures": consume(list(event.get("Records") or []))}

    return _instrumented(handle)


def _batch(kind: EventType, record_handler: Callable[[Any], None]) -> Handler:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response

    processor = BatchProcessor(event_type=kind)

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return dict(response)

    return _instrumented(handle)
