"""The AWS emulator: moto's server, in this process, bound to 127.0.0.1 only, and clients that talk to it."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from local.config import AWS_PORT_ENV, DEFAULT_AWS_PORT, HOST
from local.ports import listen

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
# Fake credentials: the emulator accepts anything, and real ones must never be sent to it.
FAKE_ACCESS_KEY = "local"
FAKE_SECRET_KEY = "local"  # noqa: S105 - not a secret, the emulator's placeholder


class Emulator:
    """moto server on ``host:port``; ``start`` fails fast with ``PortInUseError`` when the port is taken.

    moto's own ``ThreadedMotoServer`` binds inside its thread and then waits forever when the bind fails, so the
    server is assembled here from the same parts with the bind in the caller's thread.
    """

    def __init__(self, port: int = DEFAULT_AWS_PORT, host: str = HOST, env_var: str = AWS_PORT_ENV) -> None:
        self._requested_port = port
        self._host = host
        self._env_var = env_var
        self._server: Any = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        """Bind and serve in a background thread."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        # The development server logs every request; the stack reports what matters itself.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        share_stream_records_in_transaction_backups()
        honour_transaction_client_request_tokens()
        app = DomainDispatcherApplication(create_backend_app)
        sock = listen(self._host, self._requested_port, env_var=self._env_var, what="AWS emulator")
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
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-emulator", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator was never started")
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None


def share_stream_records_in_transaction_backups() -> None:
    """Keep moto's ``TransactWriteItems`` from copying every stream record the table ever produced.

    To roll a failed transaction back, moto deep-copies each table it touches, once per item of the transaction,
    and the copy includes the table's stream shard, which keeps every change record (old and new images) forever.
    A transaction's cost thus grew with every write ever made: generating 20 sample users took about four times
    as long as with this change, longer than the function's timeout. Stream records never change once written,
    so a backup can share them: its shard gets its own list of the same records, which is all a rollback needs
    (records appended by the failed transaction stay out of the restored list). Idempotent.
    """
    from moto.dynamodb.models.table import StreamShard

    if getattr(StreamShard, "_firstmile_shared_records", False):
        return

    def deepcopy_sharing_records(self: Any, memo: dict[int, Any]) -> Any:
        copied = StreamShard.__new__(StreamShard)
        memo[id(self)] = copied
        for name, value in self.__dict__.items():
            copied.__dict__[name] = list(value) if name == "items" else copy.deepcopy(value, memo)
        return copied

    setattr(StreamShard, "__deepcopy__", deepcopy_sharing_records)  # noqa: B010 - moto's class has no such method
    setattr(StreamShard, "_firstmile_shared_records", True)  # noqa: B010


# DynamoDB keeps a transaction's client request token for 10 minutes after the transaction.
TRANSACTION_TOKEN_SECONDS = 600


def honour_transaction_client_request_tokens() -> None:
    """Make moto's ``TransactWriteItems`` idempotent under its ``ClientRequestToken``, as DynamoDB is.

    botocore gives every ``TransactWriteItems`` a fresh token and sends the same token again when it retries, for
    instance after a read timeout. DynamoDB answers such a retry of an applied transaction with success and applies
    nothing; moto applied it again, so a transaction whose answer was lost came back refused by its own conditions
    (a flag "already existing" because the first attempt created it). Here a token seen within 10 minutes with the
    same request answers what the first attempt answered; with another request it is refused with
    ``IdempotentParameterMismatchException``; a retry that arrives while the first attempt still runs waits for it.
    A cancelled or failed attempt leaves no token behind, as in DynamoDB. Idempotent.
    """
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler, "_firstmile_tokens", False):
        return
    original = DynamoHandler.transact_write_items
    lock = threading.Lock()
    # (account, region, token) -> (the request without its token, set when the first attempt ends, its answer)
    seen: dict[tuple[str, str, str], tuple[str, threading.Event, list[Any]]] = {}
    finished_at: dict[tuple[str, str, str], float] = {}

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__(
                ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                message="The request uses the same client token as a previous, but non-identical request.",
            )

    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        request = json.dumps({k: v for k, v in self.body.items() if k != "ClientRequestToken"}, sort_keys=True)
        key = (self.current_account, self.region, token)
        now = time.monotonic()
        with lock:
            # Tokens are added in the order their attempts finished: the expired ones are at the front.
            while finished_at:
                oldest = next(iter(finished_at))
                if now - finished_at[oldest] <= TRANSACTION_TOKEN_SECONDS:
                    break
                del finished_at[oldest]
                seen.pop(oldest, None)
            prior = seen.get(key)
            if prior is None:
                done = threading.Event()
                answer: list[Any] = []
                seen[key] = (request, done, answer)
        if prior is not None:
            prior_request, prior_done, prior_answer = prior
            if prior_request != request:
                raise IdempotentParameterMismatch()
            prior_done.wait(timeout=TRANSACTION_TOKEN_SECONDS)
            if prior_answer:
                return prior_answer[0]
            return transact_write_items(self)  # the first attempt failed: this one is a new transaction
        try:
            answer.append(original(self))
            return answer[0]
        finally:
            with lock:
                if answer:
                    finished_at[key] = time.monotonic()
                else:
                    seen.pop(key, None)
            done.set()

    setattr(DynamoHandler, "transact_write_items", transact_write_items)  # noqa: B010 - replacing moto's method
    setattr(DynamoHandler, "_firstmile_tokens", True)  # noqa: B010


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for ``service`` on the emulator at ``endpoint``, with fake credentials."""
    import boto3
    from botocore.config import Config

    # A session per client: creating clients from the shared default session is not thread-safe.
    session = boto3.session.Session(
        aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY, region_name=REGION
    )
    config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
    return session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


def emulator_answers(endpoint: str, timeout: float = 2.0) -> bool:
    """Whether a moto emulator answers at ``endpoint`` (another kind of server on the port does not count)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=timeout) as response:  # noqa: S310
            return 200 <= response.status < 300 and isinstance(json.loads(response.read()), dict)
    except (OSError, ValueError, urllib.error.URLError):
        return False
