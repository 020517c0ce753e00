"""One record per API request (issue 15, decision 0101): written to the function's log as one line in CloudWatch's
embedded metric format, so publishing it costs no network call.

In AWS the line does two things. CloudWatch turns it into metrics: request, server-error and client-error counts,
latency, and a count per objective threshold, by ``audience`` (the route's role), for the burn-rate alarms and the
dashboard. And a subscription filter on the function's log group hands it to ``sla_request_aggregator``, which adds
it to the route's per-minute tallies (``firstmile.sla.tallies``) that the SLA endpoints read. Locally the stack does
what the subscription does (``local.log_subscriptions``).

The line names the route by its template (``GET /v1/flags/{key}``), never a path, a user or a tenant.

A request its function never answered (the function timed out, ran out of memory or failed to start, or the
authorizer failed) writes no record: API Gateway answers it itself, with a 5xx. Its access log line says so, and a
second subscription filter (``GATEWAY_FILTER_PATTERN``) hands those lines to the same aggregator, which counts them
as the route's server errors (``gateway_sample``) and writes the record the function could not (decision 0105).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from firstmile.sla.objectives import QUEUE_AUDIENCE_PREFIX, marks, slow_thresholds

MARKER = "firstmile_request"
"""The key that marks a request record; the subscription filter's pattern is ``{ $.firstmile_request = 1 }``."""
FILTER_PATTERN = "{ $." + MARKER + " = 1 }"
NAMESPACE = "Firstmile"
SERVICE = "firstmile"
DIMENSIONS = ("service", "audience")
REQUESTS_METRIC = "Requests"
SERVER_ERRORS_METRIC = "ServerErrors"
CLIENT_ERRORS_METRIC = "ClientErrors"
LATENCY_METRIC = "Latency"


def slower_than_metric(threshold_ms: int) -> str:
    """The count metric of requests slower than ``threshold_ms``, e.g. ``SlowerThan300ms``."""
    return f"SlowerThan{threshold_ms}ms"


def mark_metric(mark: str) -> str:
    """The count metric of requests carrying ``mark``, e.g. ``FlagSetExpired``."""
    return "".join(part.capitalize() for part in mark.split("-"))


@dataclass(frozen=True)
class RequestSample:
    """One answered request, as its record tells it."""

    route: str
    audience: str
    status: int
    latency_ms: float
    at_ms: int
    code: str | None = None
    marks: frozenset[str] = frozenset()


PROBE_ROUTE = "PROBE /health/ready"
"""The synthetic probe's runs are tallied as requests of this route (audience ``probe``): a failed run as a 503."""


def queue_sample(queue: str, ok: bool, waited_ms: float, at_ms: int) -> RequestSample:
    """One queue message taken by its consumer: how long it waited in the queue (its "latency"), and whether its
    work succeeded. Route ``QUEUE <name>``, audience ``queue:<name>``."""
    return RequestSample(f"QUEUE {queue}", QUEUE_AUDIENCE_PREFIX + queue, 200 if ok else 500, waited_ms, at_ms)


def probe_sample(ready: bool, latency_ms: float, at_ms: int) -> RequestSample:
    """One synthetic probe run as a sample: what the availability objective and the uptime view count."""
    from firstmile.sla.objectives import PROBE_AUDIENCE

    return RequestSample(PROBE_ROUTE, PROBE_AUDIENCE, 200 if ready else 503, latency_ms, at_ms)


def record_line(sample: RequestSample, function: str = "") -> str:
    """The request's record: one line of JSON in the embedded metric format."""
    thresholds = slow_thresholds()
    slow = {slower_than_metric(t): int(sample.latency_ms > t) for t in thresholds}
    slow |= {mark_metric(m): int(m in sample.marks) for m in marks()}
    metrics = [
        {"Name": REQUESTS_METRIC, "Unit": "Count"},
        {"Name": SERVER_ERRORS_METRIC, "Unit": "Count"},
        {"Name": CLIENT_ERRORS_METRIC, "Unit": "Count"},
        {"Name": LATENCY_METRIC, "Unit": "Milliseconds"},
        *({"Name": name, "Unit": "Count"} for name in slow),
    ]
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": sample.at_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [list(DIMENSIONS)], "Metrics": metrics}],
        },
        "service": SERVICE,
        "audience": sample.audience,
        REQUESTS_METRIC: 1,
        SERVER_ERRORS_METRIC: int(sample.status >= 500),
        CLIENT_ERRORS_METRIC: int(400 <= sample.status < 500),
        LATENCY_METRIC: round(sample.latency_ms, 3),
        **slow,
        MARKER: 1,
        "route": sample.route,
        "status": sample.status,
        "function": function,
    }
    if sample.code:
        document["code"] = sample.code
    if sample.marks:
        document["marks"] = sorted(sample.marks)
    return json.dumps(document, separators=(",", ":"))


def emit(sample: RequestSample, function: str = "") -> None:
    """Write the request's record to the function's log (standard output, which Lambda sends to its log group)."""
    sys.stdout.write(record_line(sample, function) + "\n")
    sys.stdout.flush()


def sample_of(line: str) -> RequestSample | None:
    """The sample a log line records; ``None`` for any other line, or a record that does not parse."""
    document = _document_of(line)
    return _record_sample(document) if document is not None else None


def _document_of(line: str) -> dict[str, Any] | None:
    """A log line's JSON object; ``None`` when it is not one."""
    try:
        document = json.loads(line)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _record_sample(document: dict[str, Any]) -> RequestSample | None:
    if document.get(MARKER) != 1:
        return None
    try:
        timestamp = document["_aws"]["Timestamp"]
        return RequestSample(
            route=str(document["route"]),
            audience=str(document["audience"]),
            status=int(document["status"]),
            latency_ms=float(document[LATENCY_METRIC]),
            at_ms=int(timestamp),
            code=str(document["code"]) if document.get("code") else None,
            marks=frozenset(str(m) for m in document.get("marks") or ()),
        )
    except (KeyError, TypeError, ValueError):
        return None


# --- answers API Gateway made itself ---------------------------------------------------------------------------

ABSENT = "-"
"""What API Gateway writes in an access log field whose variable has no value."""
GATEWAY_FILTER_PATTERN = (
    '{ $.status = "5*" && ($.integrationErrorMessage != "' + ABSENT + '" || $.authorizerError != "' + ABSENT + '") }'
)
"""The subscription filter on the API's access log: a 5xx API Gateway answered because the function or the
authorizer failed (a function's own 5xx answer has neither field, and is counted from its record)."""
FUNCTION_TIMEOUT_CODE = "EXT_FUNCTION_TIMEOUT"
"""The code tallied for a function that did not answer in time (the local gateway answers it too)."""
GATEWAY_FAILURE_CODE = "SYS_INTERNAL"
"""The code tallied for any other failure API Gateway answered for: the function crashed, ran out of memory, was
throttled or failed to start, or the authorizer failed (the local gateway answers those with it)."""


def answered_by_gateway(document: Mapping[str, Any]) -> bool:
    """Whether an access log line (``infra.constructs.http_api.ACCESS_LOG_FIELDS``) is a 5xx API Gateway answered
    because the function or the authorizer failed: what ``GATEWAY_FILTER_PATTERN`` lets through."""
    status = str(document.get("status", ""))
    failed = any(_present(document.get(name)) for name in ("integrationErrorMessage", "authorizerError"))
    return status.startswith("5") and failed


def gateway_sample(
    document: Mapping[str, Any], at_ms: int, audience_of: Callable[[str], str | None]
) -> RequestSample | None:
    """The sample of an access log line API Gateway answered itself (``answered_by_gateway``), at ``at_ms`` (the
    log event's time), with the route's audience from ``audience_of``; ``None`` for any other line, a line that does
    not parse, or a route ``audience_of`` does not know."""
    if not answered_by_gateway(document):
        return None
    route = str(document.get("routeKey", ABSENT))
    audience = audience_of(route)
    if audience is None:
        return None
    try:
        status = int(str(document["status"]))
    except (KeyError, ValueError):
        return None
    message = str(document.get("integrationErrorMessage", ""))
    timed_out = status == 504 or "timed out" in message.lower()
    return RequestSample(
        route=route,
        audience=audience,
        status=status,
        latency_ms=_milliseconds(document.get("latency")),
        at_ms=at_ms,
        code=FUNCTION_TIMEOUT_CODE if timed_out else GATEWAY_FAILURE_CODE,
    )


def _present(value: Any) -> bool:
    return value is not None and str(value) not in ("", ABSENT)


def _milliseconds(value: Any) -> float:
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        return 0.0


# --- deliveries -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogBatch:
    """What a subscription delivers: the log events' ids and the samples their messages record; ``by_gateway``
    are those among the samples that API Gateway answered itself (no function wrote their record)."""

    event_ids: tuple[str, ...]
    samples: tuple[RequestSample, ...]
    control: bool = False
    by_gateway: tuple[RequestSample, ...] = ()


def decode_subscription(event: dict[str, Any], audience_of: Callable[[str], str | None] | None = None) -> LogBatch:
    """A CloudWatch Logs subscription event (``awslogs.data``: base64 of gzipped JSON) as a ``LogBatch``. The
    control message CloudWatch sends when it sets a subscription up carries no log events. With ``audience_of``,
    the API's access log lines API Gateway answered itself are samples too."""
    import base64
    import gzip

    raw = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if raw.get("messageType") == "CONTROL_MESSAGE":
        return LogBatch((), (), control=True)
    events = raw.get("logEvents") or []
    samples: list[RequestSample] = []
    by_gateway: list[RequestSample] = []
    for log_event in events:
        document = _document_of(str(log_event.get("message", "")))
        if document is None:
            continue
        sample = _record_sample(document)
        if sample is None and audience_of is not None:
            sample = _gateway_sample_at(document, log_event.get("timestamp"), audience_of)
            if sample is not None:
                by_gateway.append(sample)
        if sample is not None:
            samples.append(sample)
    return LogBatch(tuple(str(e.get("id", "")) for e in events), tuple(samples), by_gateway=tuple(by_gateway))


def _gateway_sample_at(
    document: dict[str, Any], timestamp: Any, audience_of: Callable[[str], str | None]
) -> RequestSample | None:
    try:
        at_ms = int(timestamp)
    except (TypeError, ValueError):
        return None
    return gateway_sample(document, at_ms, audience_of)


def encode_subscription(log_group: str, lines: list[tuple[str, int, str]]) -> dict[str, Any]:
    """The subscription event CloudWatch Logs would deliver for ``lines`` (id, timestamp in ms, message) of
    ``log_group``: used by the local stack, which delivers its functions' records the same way."""
    import base64
    import gzip

    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "000000000000",
        "logGroup": log_group,
        "logStream": "local",
        "subscriptionFilters": ["firstmile-requests"],
        "logEvents": [{"id": i, "timestamp": ts, "message": message} for i, ts, message in lines],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}
