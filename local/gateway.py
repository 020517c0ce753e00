"""The local API Gateway (HTTP API): routes from the catalogue, CORS preflight, the authorizer, payload v2.

Each request becomes the payload v2 event API Gateway would send; non-public routes go through the catalogue's
``Authorizer`` function first (HTTP API REQUEST authorizer, payload 2.0, simple responses, no identity source and
no cache: it runs for every such request, a missing ``Authorization`` header included); then the route's function
runs in its own instance with the authorizer's context and its answer is turned back into HTTP. What API Gateway
answers by itself (no route, CORS preflight, an authorizer's "no" or failure, a failed or timed-out function) is
answered here in Firstmile's problem format.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from firstmile.entrypoints import BEARER_CHALLENGE
from firstmile.http import headers as h
from firstmile.http import problems as p
from firstmile.sla.requests import ABSENT, FUNCTION_TIMEOUT_CODE
from functions.catalog import Authorizer, Function, Route, http_functions
from local.console import ACCESS_LOGGER
from local.events import api_request_id, authorizer_event, http_event, match_path
from local.ports import listen
from local.runtime import Invocation, Runtime, RuntimeStoppedError

log = logging.getLogger(__name__)
access_log = logging.getLogger(ACCESS_LOGGER)

# API Gateway answers 504 when the integration does not answer in time; Lambda's timeout is the local cause.
EXT_FUNCTION_TIMEOUT = p.register_code(FUNCTION_TIMEOUT_CODE, 504, "The function did not answer in time")
# What the HTTP server itself refuses before there is a request to route (the stdlib would answer in HTML).
VAL_URI_TOO_LONG = p.register_code("VAL_URI_TOO_LONG", 414, "Request line too long")
VAL_HEADERS_TOO_LARGE = p.register_code("VAL_HEADERS_TOO_LARGE", 431, "Request header fields too large")
# What GET /health/ready answers while the local stack is not usable yet, or will not be (decision 0029).
SYS_STARTING = p.register_code("SYS_STARTING", 503, "The local stack is starting")
SYS_SEED_FAILED = p.register_code("SYS_SEED_FAILED", 503, "The local demo data could not be seeded")
READY_PATH = "/health/ready"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_PROTOCOL_ERRORS: dict[int, tuple[p.ErrorCode, str]] = {
    HTTPStatus.REQUEST_URI_TOO_LONG: (VAL_URI_TOO_LONG, "The request line is too long."),
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (VAL_HEADERS_TOO_LARGE, "The request's headers are too large."),
}
DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    failed: tuple[str, str] | None = None
    """When the gateway answered because the function or the authorizer failed: the access log field that says so
    (``integrationErrorMessage`` or ``authorizerError``) and its message."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


class RouteTable:
    """The catalogue's routes, most specific first, as API Gateway prefers literal segments to parameters."""

    def __init__(self, catalog: Iterable[Function]) -> None:
        def specificity(entry: tuple[Function, Route]) -> tuple[int, int, str]:
            segments = entry[1].path.strip("/").split("/")
            greedy = int(any(s.endswith("+}") for s in segments))
            params = sum(s.startswith("{") for s in segments)
            return (greedy, params, entry[1].path)

        self._routes = sorted(http_functions(tuple(catalog)), key=specificity)

    def match(self, method: str, raw_path: str) -> tuple[Function, Route, dict[str, str]] | None:
        """The function, route and path parameters for a request, or ``None`` (API Gateway's 404)."""
        for function, route in self._routes:
            if route.method != method:
                continue
            params = match_path(route.path, raw_path)
            if params is not None:
                return function, route, params
        return None


class GatewayApp:
    """Turns one HTTP request into a response; independent of the HTTP server so it can be driven directly."""

    def __init__(
        self,
        catalog: Iterable[Function],
        runtime: Runtime,
        cors_allow_origins: Iterable[str],
        *,
        openapi: Callable[[], dict[str, Any]] | None = None,
        docs_page: Callable[[], str] | None = None,
        access_records: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """``access_records`` takes the access log line (as API Gateway writes it) of every answer the gateway made
        because a function or the authorizer failed: the access log's subscription (decision 0105)."""
        catalog = tuple(catalog)
        self._access_records = access_records
        self._routes = RouteTable(catalog)
        self._runtime = runtime
        self._allowed = tuple(cors_allow_origins)
        self._authorizer = authorizer_of(catalog)
        self._openapi = openapi
        self._docs_page = docs_page
        # Until the stack says it is usable, GET /health/ready answers this problem instead of the function.
        self._held: tuple[p.ErrorCode, str] | None = (SYS_STARTING, "The local stack is starting.")

    def hold_readiness(self, error: p.ErrorCode, detail: str) -> None:
        """Answer ``GET /health/ready`` with ``error`` (a 503) until ``release_readiness``."""
        self._held = (error, detail)

    def release_readiness(self) -> None:
        """From now on ``GET /health/ready`` reaches its function."""
        self._held = None

    @property
    def ready(self) -> bool:
        return self._held is None

    def handle(self, request: Request) -> tuple[Response, str]:
        """The response, and what served it (a function name or the gateway) for the access log."""
        started, received = time.monotonic(), time.time()
        response, served_by, route = self._handle(request)
        if response.failed is not None and route is not None and self._access_records is not None:
            latency_ms = (time.monotonic() - started) * 1000
            self._access_records(access_line(request, route, response, latency_ms, received))
        return response, served_by

    def _handle(self, request: Request) -> tuple[Response, str, Route | None]:
        request_id = api_request_id()
        if request.method == "OPTIONS":
            return self._preflight(request), "cors", None
        held = self._held
        if held is not None and request.method in ("GET", "HEAD") and request.path == READY_PATH:
            response = self._problem(request, request_id, *held)
            if held[0] is SYS_STARTING:
                response.headers.append(("Retry-After", "1"))
            return response, "gateway", None
        matched = self._routes.match(request.method, request.path)
        if matched is None:
            own = self._own_page(request)
            if own is not None:
                return own, "gateway", None
            refused = self._problem(
                request, request_id, p.RES_ROUTE_NOT_FOUND, "No route matches this method and path."
            )
            return refused, "gateway", None
        function, route, params = matched
        if len(request.body) > MAX_BODY_BYTES:
            return self.too_large(request), "gateway", route
        event = http_event(
            method=request.method,
            raw_path=request.path,
            raw_query=request.query,
            headers=request.headers,
            body=request.body,
            route=route,
            path_parameters=params,
            source_ip=request.source_ip,
            request_id=request_id,
        )
        if route.role != "public":
            refusal = self._authorize(request, request_id, event)
            if refusal is not None:
                return refusal, self._authorizer or "gateway", route
        try:
            invocation = self._runtime.invoke(function.name, event)
        except RuntimeStoppedError:
            stopping = self._problem(request, request_id, p.SYS_UNAVAILABLE, "The local stack is stopping.")
            return stopping, function.name, route
        return self._function_response(request, request_id, invocation), function.name, route

    def malformed(self, request: Request) -> Response:
        """The answer to a request whose body could not be read (bad Content-Length or chunking)."""
        return self._problem(request, api_request_id(), p.VAL_BAD_REQUEST, "The request body is malformed.")

    def too_large(self, request: Request) -> Response:
        """The answer to a body over API Gateway's payload limit (413, as API Gateway answers)."""
        return self._problem(request, api_request_id(), p.VAL_TOO_LARGE, "The request body is larger than 10 MB.")

    def protocol_error(self, request: Request, status: int) -> Response:
        """The answer to what the HTTP server refused before routing: a garbage or HTTP/0.9 request line, a line or
        headers too long, an unsupported HTTP version. Always a problem document with the standard headers."""
        error, detail = _PROTOCOL_ERRORS.get(status, (p.VAL_BAD_REQUEST, "The request is not valid HTTP/1.1."))
        return self._problem(request, api_request_id(), error, detail)

    def failed(self, request: Request) -> Response:
        """The answer when the gateway itself failed (a bug): a 500 problem, never a stack trace."""
        return self._problem(
            request, api_request_id(), p.SYS_INTERNAL, "The gateway failed; quote the instance id when reporting it."
        )

    def _authorize(self, request: Request, request_id: str, event: dict[str, Any]) -> Response | None:
        """Run the authorizer; ``None`` when the request may proceed (its context is then in the event).

        The authorizer has no identity source, so it runs for every request to a non-public route, with or
        without an ``Authorization`` header: it answers "allowed" with either the caller or ``auth_error``, and
        the function turns the latter into a 401 problem naming the code.
        """
        if self._authorizer is None:
            return self._problem(
                request,
                request_id,
                p.AUTH_UNAUTHENTICATED,
                "This route needs an identity, and no authorizer is deployed.",
            )
        try:
            invocation = self._runtime.invoke(self._authorizer, authorizer_event(event, []))
        except RuntimeStoppedError:
            return self._problem(request, request_id, p.SYS_UNAVAILABLE, "The local stack is stopping.")
        answer = invocation.payload if invocation.ok else None
        if not isinstance(answer, dict) or not isinstance(answer.get("isAuthorized"), bool):
            log.error("the authorizer failed or gave no simple response: %s", invocation.error or answer)
            failure = ("authorizerError", "The authorizer failed or gave no simple response.")
            return self._problem(request, request_id, p.SYS_INTERNAL, "The request could not be authorized.", failure)
        if not answer["isAuthorized"]:
            # API Gateway answers 403 whenever a simple-response authorizer says no.
            return self._problem(request, request_id, p.PERM_FORBIDDEN, "The request was refused by the authorizer.")
        context = answer.get("context")
        event["requestContext"]["authorizer"] = {"lambda": context if isinstance(context, dict) else {}}
        return None

    def _function_response(self, request: Request, request_id: str, invocation: Invocation) -> Response:
        if invocation.error is not None:
            if invocation.error.kind == "timeout":
                detail, failure = "The function did not answer in time.", _integration_error("The function timed out.")
                return self._problem(request, request_id, EXT_FUNCTION_TIMEOUT, detail, failure)
            log.error(
                "%s raised %s: %s (its traceback is in the log file)",
                invocation.function,
                invocation.error.error_type,
                invocation.error.message,
            )
            return self._problem(
                request,
                request_id,
                p.SYS_INTERNAL,
                "An unexpected error occurred; quote the instance id when reporting it.",
                _integration_error(f"The function failed: {invocation.error.error_type}."),
            )
        try:
            response = _http_response(invocation.payload)
        except (TypeError, ValueError, KeyError) as exc:
            log.error("%s answered with something that is not an HTTP API response: %s", invocation.function, exc)
            detail = "The function's answer was malformed."
            return self._problem(request, request_id, p.SYS_INTERNAL, detail, _integration_error(detail))
        response.headers.append(("apigw-requestid", request_id))
        return response

    def _preflight(self, request: Request) -> Response:
        # API Gateway's CORS configuration answers every preflight itself, from the allow-list.
        preflight = h.preflight_headers(request.header("origin"), self._allowed)
        return Response(204, [*preflight.items(), *self._standard_headers(request, cors=False)])

    def _own_page(self, request: Request) -> Response | None:
        if request.method != "GET":
            return None
        try:
            if request.path == "/openapi.json" and self._openapi is not None:
                body = json.dumps(self._openapi(), indent=2, sort_keys=True).encode()
                headers = [("Content-Type", "application/json"), *self._standard_headers(request)]
                return Response(200, headers, body)
            if request.path == "/docs" and self._docs_page is not None:
                page = self._docs_page().encode()
                headers = [("Content-Type", "text/html; charset=utf-8"), *self._standard_headers(request)]
                # The page styles itself inline and runs no script.
                headers = [(k, DOCS_CSP if k == "Content-Security-Policy" else v) for k, v in headers]
                return Response(200, headers, page)
        except Exception:  # a handler that cannot be documented must not take the gateway down
            log.exception("the API description could not be generated")
            return self._problem(
                request, api_request_id(), p.SYS_INTERNAL, "The API description could not be generated."
            )
        return None

    def _standard_headers(self, request: Request, *, cors: bool = True) -> list[tuple[str, str]]:
        """What every Firstmile response carries: security headers, CORS for allowed origins, the correlation id."""
        allowed = h.cors_headers(request.header("origin"), self._allowed) if cors else {}
        return [
            *h.SECURITY_HEADERS.items(),
            ("Cache-Control", h.DEFAULT_CACHE_CONTROL),
            *allowed.items(),
            (h.CORRELATION_HEADER, h.correlation_id_from(dict(request.headers))),
        ]

    def _problem(
        self,
        request: Request,
        request_id: str,
        error: p.ErrorCode,
        detail: str,
        failed: tuple[str, str] | None = None,
    ) -> Response:
        """A problem answer; ``failed`` when it answers for a failed function or authorizer (``Response.failed``)."""
        document = p.Problem(error, detail).document(request_id)
        headers = [("Content-Type", p.PROBLEM_CONTENT_TYPE), *self._standard_headers(request)]
        headers.append(("apigw-requestid", request_id))
        if error.status == 401:
            headers.append(("WWW-Authenticate", BEARER_CHALLENGE))
        return Response(error.status, headers, json.dumps(document).encode(), failed)


def _integration_error(message: str) -> tuple[str, str]:
    """``Response.failed`` for a function that failed: the access log's ``integrationErrorMessage``."""
    return ("integrationErrorMessage", message)


def authorizer_of(catalog: Iterable[Function]) -> str | None:
    """The name of the catalogue's ``Authorizer`` function, if it has one (at most one is allowed)."""
    names = [f.name for f in catalog if isinstance(f.trigger, Authorizer)]
    if len(names) > 1:
        raise ValueError(f"the catalogue has more than one authorizer: {names}")
    return names[0] if names else None


def access_line(
    request: Request, route: Route, response: Response, latency_ms: float, received: float | None = None
) -> dict[str, Any]:
    """The request's line in API Gateway's access log, in the format the API stage writes
    (``infra.constructs.http_api.ACCESS_LOG_FIELDS``), for a request ``received`` at that epoch second; what has no
    value is ``-``, as API Gateway writes it."""
    request_id = next((v for k, v in response.headers if k.lower() == "apigw-requestid"), ABSENT)
    failed_field, message = response.failed or ("", "")
    integration_ran = failed_field == "integrationErrorMessage"
    return {
        "requestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(received)),
        "ip": request.source_ip,
        "httpMethod": request.method,
        "routeKey": route.key,
        "path": request.path,
        "status": str(response.status),
        "protocol": "HTTP/1.1",
        "responseLength": str(len(response.body)),
        "latency": str(round(latency_ms)),
        "integrationLatency": str(round(latency_ms)) if integration_ran else ABSENT,
        "integrationStatus": "200" if integration_ran else ABSENT,
        "integrationErrorMessage": message if integration_ran else ABSENT,
        "authorizerError": message if failed_field == "authorizerError" else ABSENT,
        "errorMessage": "Internal Server Error" if response.status == 500 else HTTPStatus(response.status).phrase,
    }


def log_access(method: str, path: str, response: Response, served_by: str, duration_ms: float) -> None:
    """One line per request: method, path, status, what answered, milliseconds, correlation id, problem code."""
    correlation = next((v for k, v in response.headers if k.lower() == h.CORRELATION_HEADER.lower()), "-")
    code = _problem_code(response)
    shown_path = _printable(path, 200)
    access_log.info(
        "%s %s %d %s %.0f ms %s%s",
        _printable(method, 16),
        shown_path,
        response.status,
        served_by,
        duration_ms,
        _printable(correlation, 100),
        f" {code}" if code else "",
        extra={
            "method": method,
            "path": shown_path,
            "status": response.status,
            "function": served_by,
            "duration_ms": round(duration_ms, 1),
            "correlation_id": correlation,
            "code": code,
        },
    )


def _problem_code(response: Response) -> str | None:
    if response.status < 400:
        return None
    content_type = next((v for k, v in response.headers if k.lower() == "content-type"), "")
    if not content_type.startswith(p.PROBLEM_CONTENT_TYPE):
        return None
    try:
        code = json.loads(response.body).get("code")
    except (ValueError, AttributeError):
        return None
    return _printable(code, 64) if isinstance(code, str) else None


def _printable(text: str, limit: int) -> str:
    """``text`` safe for a terminal: control characters escaped (a request may carry any), at most ``limit``."""
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _http_response(payload: Any) -> Response:
    """An HTTP API (payload v2) Lambda answer as HTTP; a bare value becomes a 200 JSON body, as in API Gateway."""
    if not (isinstance(payload, dict) and "statusCode" in payload):
        return Response(200, [("Content-Type", "application/json")], json.dumps(payload).encode())
    status = int(payload["statusCode"])
    if not 100 <= status <= 599:
        raise ValueError(f"statusCode {status} is not an HTTP status")
    headers = [(str(k), str(v)) for k, v in (payload.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in payload.get("cookies") or []]
    raw = payload.get("body") or ""
    if not isinstance(raw, str):
        raise TypeError("body must be a string")
    body = base64.b64decode(raw) if payload.get("isBase64Encoded") else raw.encode()
    return Response(status, headers, body)


class _BodyTooLarge(ValueError):
    """The body is over API Gateway's payload limit; it is not read."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Firstmile-local"
    # An idle keep-alive connection or a stalled upload is dropped after this long.
    timeout = 120
    # Headers and body go out in two writes; with Nagle's algorithm on, the body waited for the client's delayed
    # ACK of the headers (about 40 ms on Linux) on every answer over a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        started = time.monotonic()
        path, _, query = self.path.partition("?")
        too_large = False
        try:
            body: bytes | None = self._read_body()
        except _BodyTooLarge:
            body, too_large = None, True
        except ValueError:
            body = None
        request = Request(
            method=self.command,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=body or b"",
            source_ip=self.client_address[0],
        )
        try:
            if body is None:
                self.close_connection = True  # the rest of the stream cannot be trusted
                answer = self.server.app.too_large(request) if too_large else self.server.app.malformed(request)
                response, served_by = answer, "gateway"
            else:
                response, served_by = self.server.app.handle(request)
        except Exception:  # the gateway must answer even when it has a bug
            log.exception("the gateway failed on %s %s", self.command, path)
            response, served_by = self.server.app.failed(request), "gateway"
        self._answer(response, served_by, path, started)

    def _answer(self, response: Response, served_by: str, path: str, started: float) -> None:
        # The line is written before the answer: whoever has read an answer finds its line already in the console
        # and the log file (the time is the gateway's and the function's, not the client's reading).
        log_access(self.command or "-", path, response, served_by, (time.monotonic() - started) * 1000)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)

    def parse_request(self) -> bool:
        # An HTTP/0.9 request line ("GET /path") would be answered with a bare body, no status and no headers: it is
        # refused before its (absent) headers are waited for.
        raw: bytes = getattr(self, "raw_requestline", b"")
        if len(str(raw, "iso-8859-1").split()) == 2:
            self.command = None  # type: ignore[assignment]
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 is not supported")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the stdlib answers in HTML, answered as a problem document with the standard headers."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command and self.request_version != "HTTP/0.9":
            # A method the server has no handler for: like any other method, it is routed, and no route matches.
            self._serve()
            return
        started = time.monotonic()
        # Always a status line and headers, whatever version the request line claimed (or failed to claim).
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        request = Request(
            method=self.command or "-",
            path="-",
            query="",
            headers=[],  # the headers were not read, or not read whole
            body=b"",
            source_ip=self.client_address[0],
        )
        try:
            response = self.server.app.protocol_error(request, code)
        except Exception:
            log.exception("the gateway failed to answer a refused request")
            response = Response(int(code), [("Content-Type", p.PROBLEM_CONTENT_TYPE)], b"{}")
        self._answer(response, "gateway", "-", started)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            received = 0
            while size := int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16):
                received += size
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline(64)
            while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge  # not read: the connection is closed after the answer
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # _answer logs every answer once (the request line may not even have been read).
        return

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        # Every request is logged once by _serve; the stdlib's own line would repeat it.
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: GatewayApp

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print the traceback on stderr. A client that hung up is routine (the log file notes
        # it); anything else is the gateway's bug: one line on the console, the traceback in the log file.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("a client went away: %r", error)
        else:
            log.exception("the gateway failed on a connection")


class Gateway:
    """The HTTP server on ``host:port``; binding happens in the constructor so a taken port fails at once."""

    def __init__(self, host: str, port: int, *, env_var: str) -> None:
        self._server = _Server((host, port), _Handler, bind_and_activate=False)
        # Bound by ``listen`` for its clear message on a taken port (and no reverse DNS lookup of the host).
        self._server.socket.close()
        self._server.socket = listen(host, port, env_var=env_var, what="API gateway")
        self._server.server_address = self._server.socket.getsockname()
        self._server.server_name, self._server.server_port = host, self.port
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def serve(self, app: GatewayApp) -> None:
        """Start answering requests with ``app`` in a background thread."""
        self._server.app = app
        # A short poll: a stop is noticed within a tenth of a second (Ctrl-C has a bound, decision 0029).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop answering and release the port (requests in flight finish on their own daemon threads)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=2)
        self._server.server_close()
