"""The local gateway against real function instances: payload v2 events, routing, CORS, authorizer, failures."""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator

import pytest

from functions.catalog import API_STACK, Authorizer, Route
from local.config import LocalConfig
from local.console import ACCESS_LOGGER
from local.stack import LocalStack
from tests.integration.local_fixtures import FixtureFunction, http_call

ORIGIN = "http://localhost:3000"


def _fixture(name: str, trigger: Route | Authorizer, *, code: str = "", timeout: int = 5) -> FixtureFunction:
    stack = API_STACK if isinstance(trigger, Authorizer) else "fixture"
    return FixtureFunction(
        name=name,
        domain="fixture",
        stack=stack,
        description=f"{name} fixture",
        trigger=trigger,
        timeout_seconds=timeout,
        code=code,
    )


ECHO_CATALOG = (
    _fixture("echo", Route("GET", "/fixture/items/{item_id}", "public")),
    _fixture("echo_literal", Route("GET", "/fixture/items/latest", "public"), code="echo"),
    _fixture("echo_post", Route("POST", "/fixture/items", "public"), code="echo"),
    _fixture("slow", Route("GET", "/fixture/slow", "public"), timeout=1),
    _fixture("crash", Route("GET", "/fixture/crash", "public")),
    _fixture("private_echo", Route("GET", "/fixture/private", "user"), code="echo"),
)
AUTHORIZED_CATALOG = (
    _fixture("private_echo", Route("GET", "/fixture/private", "user"), code="echo"),
    _fixture("public_echo", Route("GET", "/fixture/public", "public"), code="echo"),
    _fixture("protected_app", Route("GET", "/fixture/me", "user")),
    # Found by its trigger, whatever its name.
    _fixture("gatekeeper", Authorizer(), code="authorizer"),
)


def _start(catalog: tuple[FixtureFunction, ...]) -> LocalStack:
    return LocalStack(LocalConfig(port=0, aws_port=0, cors_allow_origins=(ORIGIN,)), catalog).start()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = _start(ECHO_CATALOG)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def authorized_stack() -> Iterator[LocalStack]:
    started = _start(AUTHORIZED_CATALOG)
    yield started
    started.stop()


def test_request_becomes_a_faithful_payload_v2_event(stack: LocalStack) -> None:
    # Given a request with a path parameter, repeated query parameters, cookies and mixed-case headers
    headers = {"X-Custom-Header": "One", "Cookie": "a=1; b=2", "User-Agent": "tests/1.0", "Origin": ORIGIN}

    # When it goes through the gateway
    reply = http_call(stack.api_url, "GET", "/fixture/items/item%2042?tag=x&tag=y&empty=", headers=headers)

    # Then the function got the event API Gateway would have sent
    assert reply.status == 200
    event = reply.json()["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /fixture/items/{item_id}"
    assert event["rawPath"] == "/fixture/items/item%2042"
    assert event["rawQueryString"] == "tag=x&tag=y&empty="
    assert event["pathParameters"] == {"item_id": "item 42"}
    assert event["queryStringParameters"] == {"tag": "x,y", "empty": ""}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-custom-header"] == "One"
    assert "cookie" not in event["headers"]
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/fixture/items/item%2042",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1.0",
    }
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /fixture/items/{item_id}"
    assert context["requestId"] == reply.header("apigw-requestid")
    assert isinstance(context["timeEpoch"], int)
    assert "authorizer" not in context
    assert "body" not in event
    # And the function's cookies come back as separate Set-Cookie headers
    assert reply.headers["set-cookie"] == ["session=abc; HttpOnly", "theme=dark"]


def test_literal_route_wins_over_a_parameter_and_bodies_arrive_as_text_or_base64(stack: LocalStack) -> None:
    # Given a literal route and a parameter route that both match /fixture/items/latest
    # When it is requested
    literal = http_call(stack.api_url, "GET", "/fixture/items/latest")

    # Then the literal route serves it, as in API Gateway
    assert literal.json()["function_name"] == "echo_literal"

    # When JSON and binary bodies are posted
    text = http_call(
        stack.api_url, "POST", "/fixture/items", headers={"Content-Type": "application/json"}, body=b'{"a":1}'
    )
    binary = http_call(
        stack.api_url, "POST", "/fixture/items", headers={"Content-Type": "image/png"}, body=b"\x89PNG\x00"
    )

    # Then JSON arrives as text and binary as base64
    assert (text.json()["event"]["body"], text.json()["event"]["isBase64Encoded"]) == ('{"a":1}', False)
    assert (binary.json()["event"]["body"], binary.json()["event"]["isBase64Encoded"]) == ("iVBORwA=", True)


def test_chunked_bodies_are_reassembled(stack: LocalStack) -> None:
    # Given a client that streams its body in chunks
    connection = http.client.HTTPConnection("127.0.0.1", int(stack.api_url.rsplit(":", 1)[1]), timeout=60)
    try:
        # When it posts them
        connection.request(
            "POST",
            "/fixture/items",
            body=iter([b'{"a":', b" 1}"]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        reply = connection.getresponse()
        event = json.loads(reply.read())["event"]
    finally:
        connection.close()

    # Then the function gets the whole body
    assert reply.status == 200
    assert event["body"] == '{"a": 1}'


def test_each_function_runs_with_its_own_environment_and_context(stack: LocalStack) -> None:
    # Given a public and a non-public route served by the same code
    # When the public one is called
    reply = http_call(stack.api_url, "GET", "/fixture/items/1")

    # Then its instance has its own role and a Lambda-like context with time left
    body = reply.json()
    assert body["route_role"] == "public"
    assert body["function_name"] == "echo"
    assert 0 < body["remaining_ms"] <= 5000


def test_unknown_route_is_a_problem_with_security_headers_and_correlation_id(stack: LocalStack) -> None:
    # Given a path and a method no route has
    # When they are requested
    missing = http_call(stack.api_url, "GET", "/nowhere", headers={"X-Correlation-Id": "corr-1", "Origin": ORIGIN})
    wrong_method = http_call(stack.api_url, "DELETE", "/fixture/items/1")

    # Then the gateway answers 404 in the problem format, with the headers every response carries
    assert missing.status == 404
    assert missing.header("content-type") == "application/problem+json"
    assert missing.json()["code"] == "RES_ROUTE_NOT_FOUND"
    assert missing.json()["instance"] == missing.header("apigw-requestid")
    assert missing.header("x-correlation-id") == "corr-1"
    assert missing.header("x-content-type-options") == "nosniff"
    assert missing.header("strict-transport-security")
    assert missing.header("access-control-allow-origin") == ORIGIN
    assert wrong_method.status == 404


def test_cors_preflight_is_answered_by_the_gateway_from_the_allow_list(stack: LocalStack) -> None:
    # Given a preflight from an allowed origin and one from another origin
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}

    # When both are sent
    allowed = http_call(stack.api_url, "OPTIONS", "/fixture/items", headers={"Origin": ORIGIN, **preflight})
    other = http_call(
        stack.api_url, "OPTIONS", "/fixture/items", headers={"Origin": "https://evil.example", **preflight}
    )

    # Then only the allowed origin gets CORS headers, each header once
    assert allowed.status == 204
    assert allowed.headers["access-control-allow-origin"] == [ORIGIN]
    assert "POST" in (allowed.header("access-control-allow-methods") or "")
    assert other.status == 204
    assert "access-control-allow-origin" not in other.headers


def test_a_function_that_times_out_is_replaced_and_answers_504(stack: LocalStack) -> None:
    # Given a warm instance of a function whose timeout is one second
    first_pid = http_call(stack.api_url, "GET", "/fixture/slow").json()["pid"]

    # When an invocation runs past the timeout
    timed_out = http_call(stack.api_url, "GET", "/fixture/slow?sleep=30")

    # Then the gateway answers 504 with the timeout code, and the next call runs in a new instance
    assert timed_out.status == 504
    assert timed_out.json()["code"] == "EXT_FUNCTION_TIMEOUT"
    assert timed_out.header("x-correlation-id")
    assert first_pid not in stack.runtime.instance_pids()  # type: ignore[union-attr]
    assert http_call(stack.api_url, "GET", "/fixture/slow").json()["pid"] != first_pid


def test_a_function_that_raises_answers_500_without_leaking_the_error(stack: LocalStack) -> None:
    # Given a function that raises out of its handler
    # When it is called
    reply = http_call(stack.api_url, "GET", "/fixture/crash")

    # Then the client sees a generic internal problem, never the exception's text
    assert reply.status == 500
    assert reply.json()["code"] == "SYS_INTERNAL"
    assert b"internal detail" not in reply.body


def test_non_public_route_without_an_authorizer_is_refused(stack: LocalStack) -> None:
    # Given no authorizer in the catalogue
    # When a non-public route is called, even with a token
    reply = http_call(stack.api_url, "GET", "/fixture/private", headers={"Authorization": "Bearer good"})

    # Then nothing is reachable without a verified identity, and the answer names the scheme it wants
    assert reply.status == 401
    assert reply.json()["code"] == "AUTH_UNAUTHENTICATED"
    assert reply.header("www-authenticate") == 'Bearer realm="firstmile"'


def test_authorizer_runs_for_every_protected_request_and_its_context_reaches_the_function(
    authorized_stack: LocalStack,
) -> None:
    # Given a catalogue whose Authorizer-triggered function accepts only "Bearer good" and passes anything else on
    url = authorized_stack.api_url

    # When the protected route is called without a token, with a refused one and with the good one
    missing = http_call(url, "GET", "/fixture/private")
    refused = http_call(url, "GET", "/fixture/private", headers={"Authorization": "Bearer bad"})
    allowed = http_call(url, "GET", "/fixture/private", headers={"Authorization": "Bearer good"})

    # Then the authorizer ran every time, with a REQUEST payload 2.0 event, and its context reached the function
    route = "GET /fixture/private arn:aws:execute-api:us-east-1:123456789012:firstmile/$default/GET/fixture/private"
    seen = {"seen_type": "REQUEST", "seen_version": "2.0", "seen_route": route}
    assert [r.status for r in (missing, refused, allowed)] == [200, 200, 200]
    assert missing.json()["event"]["requestContext"]["authorizer"] == {
        "lambda": {"auth_error": "AUTH_UNAUTHENTICATED", **seen}
    }
    assert refused.json()["event"]["requestContext"]["authorizer"]["lambda"]["auth_error"] == "AUTH_TOKEN_INVALID"
    assert allowed.json()["event"]["requestContext"]["authorizer"] == {
        "lambda": {"tenant": "t-1", "sub": "u-1", "roles": "user", **seen}
    }
    assert allowed.json()["route_role"] == "user"


def test_the_function_answers_the_authorizers_code_as_a_problem(authorized_stack: LocalStack) -> None:
    # Given a protected route served by Firstmile's real entry point
    url = authorized_stack.api_url

    # When it is called without a token, while the authorizer cannot check tokens, and with a good one
    missing = http_call(url, "GET", "/fixture/me")
    unavailable = http_call(url, "GET", "/fixture/me", headers={"Authorization": "Bearer unavailable"})
    allowed = http_call(url, "GET", "/fixture/me", headers={"Authorization": "Bearer good"})

    # Then the refusals are problems naming the authorizer's code, and the good token gets the answer
    assert (missing.status, missing.json()["code"]) == (401, "AUTH_UNAUTHENTICATED")
    assert missing.header("content-type") == "application/problem+json"
    assert (missing.header("www-authenticate") or "").startswith("Bearer")
    assert (unavailable.status, unavailable.json()["code"]) == (503, "SYS_UNAVAILABLE")
    assert (allowed.status, allowed.json()) == (200, {"tenant": "t-1"})


def test_an_authorizer_that_says_no_or_fails_is_answered_by_the_gateway(authorized_stack: LocalStack) -> None:
    # Given the authorizer
    url = authorized_stack.api_url

    # When it answers isAuthorized=false, and when it raises
    denied = http_call(url, "GET", "/fixture/private", headers={"Authorization": "Bearer deny"})
    crashed = http_call(url, "GET", "/fixture/private", headers={"Authorization": "Bearer crash"})

    # Then the gateway answers 403 (as API Gateway does for a simple-response "no") and 500, without the function
    assert (denied.status, denied.json()["code"]) == (403, "PERM_FORBIDDEN")
    assert (crashed.status, crashed.json()["code"]) == (500, "SYS_INTERNAL")
    assert b"the authorizer broke" not in crashed.body
    assert denied.header("apigw-requestid") == denied.json()["instance"]


def test_public_routes_never_call_the_authorizer(authorized_stack: LocalStack) -> None:
    # Given a public route in a catalogue with an authorizer
    # When it is called, even with a token the authorizer would refuse
    reply = http_call(authorized_stack.api_url, "GET", "/fixture/public", headers={"Authorization": "Bearer crash"})

    # Then the function runs without any authorizer context
    assert reply.status == 200
    assert "authorizer" not in reply.json()["event"]["requestContext"]


def _raw(stack: LocalStack, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is on a new connection; the answer's status, headers (lower-cased) and body."""
    import socket

    port = int(stack.api_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"BREW /health/live HTTP/1.1\r\nHost: x\r\n\r\n", 404, "RES_ROUTE_NOT_FOUND"),
        (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", 400, "VAL_BAD_REQUEST"),
        (b"GET /fixture/public\r\n\r\n", 400, "VAL_BAD_REQUEST"),
        (b"GET /fixture/public HTTP/2.0\r\n\r\n", 400, "VAL_BAD_REQUEST"),
        (b"GET /fixture/public HTTP/1.x\r\n\r\n", 400, "VAL_BAD_REQUEST"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "VAL_URI_TOO_LONG"),
        (b"GET /fixture/public HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431, "VAL_HEADERS_TOO_LARGE"),
        (b"GET /fixture/public HTTP/1.1\r\n" + b"X-H: 1\r\n" * 150 + b"\r\n", 431, "VAL_HEADERS_TOO_LARGE"),
        (b"POST /fixture/items HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413, "VAL_TOO_LARGE"),
        (b"POST /fixture/items HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "VAL_BAD_REQUEST"),
        (b"POST /fixture/items HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "VAL_BAD_REQUEST"),
    ],
    ids=[
        "unknown-method",
        "garbage",
        "http-0.9",
        "http-2",
        "bad-version",
        "uri-too-long",
        "header-too-long",
        "too-many-headers",
        "body-over-10-mb",
        "bad-length",
        "bad-chunk",
    ],
)
def test_what_the_server_refuses_itself_is_a_problem_with_the_standard_headers(
    stack: LocalStack, request_bytes: bytes, status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a request the HTTP server cannot or will not route
    # When it is sent as raw bytes
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        answer_status, headers, body = _raw(stack, request_bytes)

    # Then the answer is a problem document (never the stdlib's HTML) with the security headers
    assert answer_status == status
    assert headers["content-type"] == "application/problem+json"
    document = json.loads(body)
    assert (document["status"], document["code"]) == (status, code)
    assert document["instance"] == headers["apigw-requestid"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["cache-control"] == "no-store"
    assert headers["x-correlation-id"]
    assert b"<html" not in body.lower() and b"Traceback" not in body
    # ...and, as every answer, it has its access line by the time it is read (a request line with no method too)
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [line for line in lines if headers["x-correlation-id"] in line and f" {status} gateway " in line], lines
