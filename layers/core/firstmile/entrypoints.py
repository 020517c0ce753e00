"""The outermost layer of every function: decorators in a fixed order, headers, roles, batch semantics.

A handler module builds its resolver (or record handler) and exposes ``lambda_handler = entrypoints.http(app)``
(or ``job`` / ``sqs_batch`` / ``stream_batch``). The order is always: logger context -> metrics -> tracer ->
Firstmile's own wrapper, so every function logs, measures and traces the same way.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from firstmile import errors as e
from firstmile.config import Settings, get_settings
from firstmile.http import headers as h
from firstmile.http import problems as p
from firstmile.http.auth import AuthContext, auth_from_event
from firstmile.observability import logger, metrics, take_request_marks, tracer

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
        began = time.perf_counter()
        take_request_marks()  # a mark of an earlier request that failed before its record must not carry over
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
        answer = _finish(response, correlation_id, h.header(request_headers, "origin"), allowed_origins)
        _record_request(event, answer, settings, began)
        return answer

    return _instrumented(handle)


def _record_request(event: dict[str, Any], answer: dict[str, Any], settings: Settings | None, began: float) -> None:
    """The request's record for the SLA views and alarms (``firstmile.sla.requests``): route template, audience,
    status, problem code and time taken. Never fails the request it records."""
    from firstmile.sla.requests import RequestSample, emit

    try:
        status = int(answer.get("statusCode") or 200)
        code = None
        if status >= 400:
            body = answer.get("body")
            document = json.loads(body) if isinstance(body, str) and body.startswith("{") else {}
            code = str(document.get("code")) if isinstance(document, dict) and document.get("code") else None
        sample = RequestSample(
            route=str(event.get("routeKey") or "$default"),
            audience=_route_role(settings),
            status=status,
            latency_ms=(time.perf_counter() - began) * 1000,
            at_ms=int(time.time() * 1000),
            code=code,
            marks=take_request_marks(),
        )
        emit(sample, os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    except Exception:  # a record lost is a count short; a request failed for it would be worse
        logger.warning("the request's record could not be written", exc_info=True)


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
    role = _route_role(settings)
    if role == "public":
        return None
    request_id = str((event.get("requestContext") or {}).get("requestId", ""))
    if settings is None:
        problem = p.Problem(e.SYS_UNAVAILABLE, "This function's configuration is invalid; see /health/startup.")
    elif auth is None:
        problem = _unauthenticated(event)
    elif not auth.has_role(settings.route_role) and not (
        settings.route_also_role and auth.has_role(settings.route_also_role)
    ):
        problem = p.Problem(e.PERM_FORBIDDEN, f"This route needs the {role} role.")
    else:
        return None
    return _problem_answer(problem, request_id)


def _route_role(settings: Settings | None) -> str:
    """The role the function's route requires (from its variable when the configuration cannot be loaded)."""
    return settings.route_role if settings else os.environ.get("FIRSTMILE_ROUTE_ROLE", "public")


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
    """The entry point of a scheduled function: ``run`` gets the schedule event, returns a summary. A run of a
    retried dead-letter task (its event carries the task's marks) resolves the task when it succeeds."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        event, task, origin = _unmarked(event)
        try:
            summary = run(event)
        except Exception as error:
            # Retried by Lambda, then its on-failure destination: the run's record says what failed (decision 0090).
            attempt = int((event.get("detail") or {}).get("attempt-number", 1) or 1)
            _record_failure(f"schedule:{_function()}", origin or _event_id(event), error, event, attempt)
            raise
        if task:
            _resolve(task)
        logger.info("job finished", extra={"summary": summary})
        return summary

    return _instrumented(handle)


def _event_id(event: dict[str, Any]) -> str:
    """The event's id (a schedule's), or a digest of the event (a log delivery's has no id)."""
    if event.get("id"):
        return str(event["id"])
    import hashlib

    return "sha256:" + hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _function() -> str:
    """This function's name in the catalogue."""
    from firstmile.platform.resources import function_name

    return function_name(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "unknown"))


def _unmarked(event: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """The event without a retried task's marks (decision 0091), the task's id and its first message id."""
    from firstmile.failures.marks import ORIGIN_MESSAGE_ATTRIBUTE, TASK_ID_ATTRIBUTE

    if TASK_ID_ATTRIBUTE not in event:
        return event, None, None
    rest = {k: v for k, v in event.items() if k not in (TASK_ID_ATTRIBUTE, ORIGIN_MESSAGE_ATTRIBUTE)}
    origin = event.get(ORIGIN_MESSAGE_ATTRIBUTE)
    return rest, str(event[TASK_ID_ATTRIBUTE]), str(origin) if origin else None


def _resolve(task: str) -> None:
    """A retried task's work succeeded: remove the task. A failure here is logged; the work is done either way."""
    from firstmile.composition import container

    try:
        container().dead_letter_tasks.resolve(task)
    except Exception as exc:
        logger.warning("retried task not resolved", extra={"task": task, "error": type(exc).__name__})


def authorizer(decide: Callable[[dict[str, Any]], dict[str, Any]]) -> Handler:
    """The entry point of the HTTP API's Lambda authorizer: ``decide`` maps the request to a simple response."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return decide(event)

    return _instrumented(handle)


def sqs_batch(record_handler: Callable[[Any], None]) -> Handler:
    """The entry point of a queue consumer with partial batch failures: failed records return to the queue, each
    failure recorded first (decision 0090), so a message that reaches the dead-letter queue has its record. A
    retried dead-letter task's message (its attributes carry the task's marks) records on the task's first message
    and resolves the task when it succeeds (decision 0091)."""
    from aws_lambda_powertools.utilities.batch import EventType

    from firstmile.failures.marks import ORIGIN_MESSAGE_ATTRIBUTE, TASK_ID_ATTRIBUTE

    def recorded(record: Any) -> None:
        marks = {
            name: value.get("stringValue")
            for name, value in (record.get("messageAttributes") or {}).items()
            if name in (TASK_ID_ATTRIBUTE, ORIGIN_MESSAGE_ATTRIBUTE) and isinstance(value, dict)
        }
        # By the queue's logical name (deployed as firstmile-<stage>-<name>), as the collector and a retry name it.
        deployed = str(record.event_source_arn or "").rsplit(":", 1)[-1] or "unknown"
        queue = deployed.removeprefix(f"firstmile-{get_settings().stage}-")
        try:
            record_handler(record)
        except Exception as error:
            _record_taken(queue, record, ok=False)
            attempt = int(record.attributes.approximate_receive_count or 1)
            origin = marks.get(ORIGIN_MESSAGE_ATTRIBUTE) or record.message_id
            _record_failure(f"queue:{queue}", origin, error, record.body, attempt)
            raise
        _record_taken(queue, record, ok=True)
        if marks.get(TASK_ID_ATTRIBUTE):
            _resolve(str(marks[TASK_ID_ATTRIBUTE]))

    return _batch(EventType.SQS, recorded)


def _record_taken(queue: str, record: Any, *, ok: bool) -> None:
    """The message's record for the queue-age objectives (``firstmile.sla.requests``): how long it waited since it
    was sent, and whether its work succeeded. Never fails the message it records."""
    from firstmile.sla.requests import emit, queue_sample

    try:
        now_ms = int(time.time() * 1000)
        sent_ms = int(record.attributes.sent_timestamp or now_ms)
        emit(queue_sample(queue, ok, max(0, now_ms - sent_ms), now_ms), os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    except Exception:
        logger.warning("the message's record could not be written", exc_info=True)


def _record_failure(source: str, message_id: str, error: BaseException, body: Any, attempt: int) -> None:
    # Loaded only when something failed: a cold start never pays for it.
    from firstmile.composition import container
    from firstmile.failures.recording import record_failure

    record_failure(source, message_id, error, body, attempt, store=lambda f: container().failure_store.record(f))


def stream_batch(record_handler: Callable[[Any], None]) -> Handler:
    """The entry point of a table-stream consumer with partial batch failures (bisect on the failed record)."""
    from aws_lambda_powertools.utilities.batch import EventType

    return _batch(EventType.DynamoDBStreams, record_handler)


def stream_in_order(consume: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Handler:
    """The entry point of a table-stream consumer that takes its batch whole, in the shard's order, and answers the
    partial batch response's failures itself (at most the record it stopped at: the stream resumes from there).

    A failure is recorded on the record it stopped at (``stream:<function>``, its sequence number; decision 0090):
    an exception of ``consume`` at the batch's first record, a failure ``consume`` answers (with its ``error``) at
    that record. A retried dead-letter batch (its event carries the task's marks, decision 0091) raises when it
    still fails, so the asynchronous invocation fails and its on-failure destination brings the task back; when it
    succeeds, the task is resolved."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        event, task, origin = _unmarked(event)
        records = list(event.get("Records") or [])
        try:
            answered = consume(records)
        except Exception as error:
            _record_stream_failure(origin or _sequence(records[0] if records else {}), error, records)
            raise
        failures = [{"itemIdentifier": str(f["itemIdentifier"])} for f in answered]
        for failure in answered:
            cause = failure.get("error") or RuntimeError("the consumer stopped at this record")
            at = origin if task else str(failure["itemIdentifier"])
            _record_stream_failure(at, cause, [r for r in records if _sequence(r) == failure["itemIdentifier"]])
        if task and failures:
            raise RetriedBatchFailedError(f"the retried batch still fails at {failures[0]['itemIdentifier']}")
        if task:
            _resolve(task)
        return {"batchItemFailures": failures}

    return _instrumented(handle)


class RetriedBatchFailedError(RuntimeError):
    """A retried dead-letter batch still fails: the asynchronous invocation must fail too (decision 0091)."""


def _sequence(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", "unknown"))


def _record_stream_failure(sequence: str | None, error: BaseException, records: list[dict[str, Any]]) -> None:
    keys = [(r.get("dynamodb") or {}).get("Keys") for r in records[:1]]
    _record_failure(f"stream:{_function()}", sequence or "unknown", error, {"keys": keys}, 1)


def _batch(kind: EventType, record_handler: Callable[[Any], None]) -> Handler:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response

    processor = BatchProcessor(event_type=kind)

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return dict(response)

    return _instrumented(handle)
