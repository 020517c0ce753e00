"""The events AWS hands to Lambda, built as AWS builds them: API Gateway HTTP API (payload v2) requests and
authorizer requests, EventBridge Scheduler invocations, SQS batches and DynamoDB stream batches."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from functions.catalog import Function, Route
from local.emulator import ACCOUNT_ID, REGION

API_ID = "firstmile"
# Content types API Gateway passes as text; every other body arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml", "x-www-form-urlencoded")


def api_request_id() -> str:
    """A request id in API Gateway's style (16 characters, base64)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()[:15] + "="


def http_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str = "",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    route: Route | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2 event for one request.

    Header names are lower-cased and repeated headers joined with commas; cookies move from the ``cookie`` header
    to ``cookies``; repeated query parameters are joined with commas; keys without a value are left out, as
    API Gateway does.
    """
    now = now or datetime.now(UTC)
    request_id = request_id or api_request_id()
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    route_key = route.key if route is not None else "$default"
    domain = joined.get("host", "127.0.0.1")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        if _is_text(joined.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    if not kind:
        return True
    return kind.startswith(_TEXT_TYPES) or kind.endswith(_TEXT_SUFFIXES)


def match_path(template: str, raw_path: str) -> dict[str, str] | None:
    """The path parameters when ``raw_path`` matches a catalogue path like ``/v1/items/{id}``, else ``None``.

    ``{name+}`` takes the rest of the path, as in API Gateway.
    """
    want = template.strip("/").split("/") if template != "/" else []
    have = raw_path.strip("/").split("/") if raw_path != "/" else []
    params: dict[str, str] = {}
    for index, segment in enumerate(want):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = have[index:]
            if not rest:
                return None
            params[segment[1:-2]] = unquote("/".join(rest))
            return params
        if index >= len(have):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            if not have[index]:
                return None
            params[segment[1:-1]] = unquote(have[index])
        elif segment != have[index]:
            return None
    return params if len(want) == len(have) else None


def route_arn(event: Mapping[str, Any]) -> str:
    """The ``routeArn`` of an authorizer request for ``event``."""
    http = event["requestContext"]["http"]
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/$default/{http['method']}{event['rawPath']}"


def authorizer_event(request: Mapping[str, Any], identity_source: Iterable[str]) -> dict[str, Any]:
    """The HTTP API Lambda authorizer request (payload v2, simple responses) for an API request event."""
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn(request),
        "identitySource": list(identity_source),
        "routeKey": request["routeKey"],
        "rawPath": request["rawPath"],
        "rawQueryString": request["rawQueryString"],
        "headers": request["headers"],
        "requestContext": request["requestContext"],
    }
    for optional in ("cookies", "queryStringParameters", "pathParameters"):
        if optional in request:
            event[optional] = request[optional]
    return event


def schedule_arn(function: Function, stage: str) -> str:
    """The ARN of the schedule that runs ``function``."""
    return f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/firstmile-{stage}/{function.name}"


def schedule_event(
    function: Function, *, stage: str, scheduled_time: datetime, execution_id: str | None = None, attempt: int = 1
) -> dict[str, Any]:
    """What a schedule hands its function: an EventBridge-style event carrying Scheduler's context attributes."""
    arn = schedule_arn(function, stage)
    return {
        "version": "0",
        "id": execution_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ACCOUNT_ID,
        "time": scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [arn],
        "detail": {"schedule-arn": arn, "attempt-number": attempt},
    }


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The SQS batch event for messages as ``ReceiveMessage`` returned them."""
    return {"Records": [_sqs_record(m, queue_arn) for m in messages]}


def _sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = {
        name: value
        for name, value in (message.get("Attributes") or {}).items()
        if name
        in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "MessageGroupId",
            "MessageDeduplicationId",
            "SequenceNumber",
            "AWSTraceHeader",
        )
    }
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return converted


def stream_event(records: Iterable[Mapping[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The DynamoDB stream batch event for records as ``GetRecords`` returned them."""
    return {"Records": [_stream_record(r, stream_arn) for r in records]}


def _stream_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        # Lambda gives epoch seconds, where the SDK parsed a datetime.
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        # The region of the emulated account, whatever the table engine calls its own.
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def pretty(event: Mapping[str, Any]) -> str:
    """An event as the sample files under ``events/`` keep it."""
    return json.dumps(event, indent=2, sort_keys=True) + "\n"
