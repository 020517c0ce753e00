"""The AWS emulator on one endpoint, bound to 127.0.0.1 only, and clients that talk to it.

Two engines answer behind the one endpoint: AWS's DynamoDB Local for DynamoDB and DynamoDB Streams
(``local.dynamodb``, docs/decisions/0028), and moto's server, in this process, for everything else (queues,
buckets, secrets, schedules). A request naming a DynamoDB target (``X-Amz-Target: DynamoDB_20120810.*`` or
``DynamoDBStreams_20120810.*``) is passed on to the table engine unchanged, so any AWS client or tool pointed at
the one endpoint sees the same table the functions use. The local stack's own functions talk to the table engine
directly (``AWS_ENDPOINT_URL_DYNAMODB``), which saves a hop per call.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from firstmile.platform.resources import function_name
from local.config import AWS_PORT_ENV, DEFAULT_AWS_PORT, HOST
from local.dynamodb import DynamoDBLocal
from local.ports import listen

if TYPE_CHECKING:
    from local.backups import TableBackups

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
# Fake credentials: the emulator accepts anything, and real ones must never be sent to it.
FAKE_ACCESS_KEY = "local"
FAKE_SECRET_KEY = "local"  # noqa: S105 - not a secret, the emulator's placeholder


class Emulator:
    """The emulated AWS endpoint on ``host:port``; ``start`` fails fast with ``PortInUseError`` when it is taken.

    moto's own ``ThreadedMotoServer`` binds inside its thread and then waits forever when the bind fails, so the
    server is assembled here from the same parts with the bind in the caller's thread.
    """

    def __init__(
        self, port: int = DEFAULT_AWS_PORT, host: str = HOST, env_var: str = AWS_PORT_ENV, *, output: int | None = None
    ) -> None:
        self._requested_port = port
        # Where the table engine's own log goes (None: this process's stderr).
        self._output = output
        self._host = host
        self._env_var = env_var
        self._server: Any = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._route: TableEngineRoute | None = None
        self.table_engine: DynamoDBLocal | None = None

    def start(self) -> Emulator:
        """Bind the endpoint, start the table engine, and serve in a background thread."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        # The development server logs every request; the stack reports what matters itself.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        sock = listen(self._host, self._requested_port, env_var=self._env_var, what="AWS emulator")
        try:
            self.table_engine = DynamoDBLocal(0, self._host, output=self._output).start()
        except BaseException:
            sock.close()
            raise
        app = TableEngineRoute(DomainDispatcherApplication(create_backend_app), self.table_engine.endpoint)
        from local.backups import TableBackups

        app.backups = TableBackups(self.table_engine.endpoint)
        self._route = app
        try:
            # werkzeug duplicates the descriptor, so this socket is closed either way.
            self._server = make_server(
                self._host,
                sock.getsockname()[1],
                app,
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=sock.fileno(),
            )
        finally:
            sock.close()
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="aws-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_invocations(self, invocations: Invocations) -> None:
        """Serve Lambda's asynchronous ``Invoke`` with ``invocations`` from now on."""
        if self._route is None:
            raise RuntimeError("the emulator was never started")
        self._route.invocations = invocations

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator was never started")
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def dynamodb_endpoint(self) -> str:
        """The table engine's own endpoint (DynamoDB and DynamoDB Streams), without the hop through ``endpoint``."""
        if self.table_engine is None:
            raise RuntimeError("the emulator was never started")
        return self.table_engine.endpoint

    def stop(self, grace_seconds: float = 3.0) -> None:
        """Stop serving, release the port and stop the table engine (killed after ``grace_seconds``)."""
        if self.table_engine is not None:
            self.table_engine.close()  # it exits while moto's server shuts down
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.table_engine is not None:
            self.table_engine.stop(grace_seconds)
        self._server = None
        self._thread = None
        self.table_engine = None


# The JSON protocol's targets of the two services the table engine answers.
TABLE_ENGINE_TARGETS = ("DynamoDB_20120810.", "DynamoDBStreams_20120810.")
# Request headers that belong to the hop between client and emulator, not to the request itself.
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"})
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


# Lambda's Invoke API: POST /2015-03-31/functions/<name or ARN>/invocations.
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


class Invocations(Protocol):
    """What serves Lambda's asynchronous ``Invoke`` locally (``local.invocations.AsyncInvoker``)."""

    def knows(self, name: str) -> bool: ...

    def invoke_later(self, name: str, event: Any) -> str: ...


class TableEngineRoute:
    """WSGI: DynamoDB and DynamoDB Streams requests go to the table engine, Lambda's asynchronous ``Invoke`` to the
    local stack's functions (once it serves them), everything else to ``app`` (moto).

    Each server thread keeps one connection to the engine; a connection the engine closed is opened again once.
    """

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], engine_endpoint: str) -> None:
        self._app = app
        self.invocations: Invocations | None = None
        self.backups: TableBackups | None = None
        address = engine_endpoint.removeprefix("http://")
        host, _, port = address.partition(":")
        self._engine = (host, int(port))
        self._connections = threading.local()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        invoked = _INVOKE_PATH.match(str(environ.get("PATH_INFO") or ""))
        if invoked and self.invocations is not None and environ.get("REQUEST_METHOD") == "POST":
            return self._invoke(urllib.parse.unquote(invoked.group(1)), environ, start_response)
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith(TABLE_ENGINE_TARGETS):
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        operation = target.removeprefix("DynamoDB_20120810.")
        if self.backups is not None and operation in self.backups.targets:
            return self._backup(operation, body, start_response)
        headers = {
            name[5:].replace("_", "-").title(): str(value)
            for name, value in environ.items()
            if name.startswith("HTTP_") and name[5:].replace("_", "-").lower() not in _HOP_HEADERS
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = str(environ["CONTENT_TYPE"])
        path = str(environ.get("PATH_INFO") or "/")
        status, reason, answer_headers, answer = self._forward(str(environ["REQUEST_METHOD"]), path, body, headers)
        start_response(f"{status} {reason}", answer_headers)
        return [answer]

    def _backup(self, operation: str, body: bytes, start_response: StartResponse) -> Iterable[bytes]:
        """A backup or point-in-time operation, which the table engine lacks (``local.backups``)."""
        from local.backups import BackupError, error_body  # the one module that imports this one's client

        assert self.backups is not None  # noqa: S101 - checked by the caller
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amzn-RequestId", str(uuid.uuid4()))]
        try:
            answer = self.backups.answer(operation, json.loads(body or b"{}"))
        except BackupError as error:
            start_response("400 Bad Request", headers)
            return [error_body(error)]
        except (KeyError, ValueError) as error:
            start_response("400 Bad Request", headers)
            return [error_body(BackupError("ValidationException", f"malformed {operation}: {error}"))]
        start_response("200 OK", headers)
        return [json.dumps(answer, default=str).encode()]

    def _invoke(self, named: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """An ``Invoke``: only ``InvocationType=Event`` is served (202, run in the background); the function is named
        as deployed (``firstmile-<stage>-<name>``), by name or ARN."""
        assert self.invocations is not None  # noqa: S101 - checked by the caller
        name = function_name(named)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        kind = str(environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse")
        if not self.invocations.knows(name):
            return _lambda_error(start_response, 404, "ResourceNotFoundException", f"Function not found: {named}")
        if kind != "Event":
            return _lambda_error(start_response, 400, "InvalidParameterValueException", "only Event is emulated")
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return _lambda_error(start_response, 400, "InvalidRequestContentException", "the payload is not JSON")
        request_id = self.invocations.invoke_later(name, event)
        start_response("202 Accepted", [("Content-Type", "application/json"), ("X-Amzn-RequestId", request_id)])
        return [b""]

    def _forward(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):
            connection = self._connection(fresh=attempt > 1)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except (ConnectionError, http.client.HTTPException):
                connection.close()
                if attempt == 2:
                    raise
                continue
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS]
            return response.status, response.reason, kept, answer
        raise AssertionError("unreachable")

    def _connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._connections, "connection", None)
        if connection is None or fresh:
            connection = http.client.HTTPConnection(*self._engine, timeout=60)
            self._connections.connection = connection
        return connection


def _lambda_error(start_response: StartResponse, status: int, code: str, message: str) -> Iterable[bytes]:
    reason = {400: "Bad Request", 404: "Not Found"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("X-Amzn-ErrorType", code)])
    return [json.dumps({"Type": "User", "message": message}).encode()]


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for ``service`` on the emulator at ``endpoint``, with fake credentials."""
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
    # One session for every client (it keeps the service models it has read); making clients from one session is
    # not thread-safe, so they are made one at a time. The clients themselves may be used from any thread.
    with _making_clients:
        return _client_session().client(service, endpoint_url=endpoint, config=config)


_making_clients = threading.Lock()


@functools.cache
def _client_session() -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY, region_name=REGION
    )


def _after_fork_in_child() -> None:
    # A fork taken while another thread made a client would leave the child a held lock.
    global _making_clients  # noqa: PLW0603
    _making_clients = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def emulator_answers(endpoint: str, timeout: float = 2.0) -> bool:
    """Whether a moto emulator answers at ``endpoint`` (another kind of server on the port does not count)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=timeout) as response:  # noqa: S310
            return 200 <= response.status < 300 and isinstance(json.loads(response.read()), dict)
    except (OSError, ValueError, urllib.error.URLError):
        return False
