"""Starting ``firstmile dev`` for real, calling it like a client, and stopping it with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.config import DEMO_USERS_ENV
from local.console import LOG_FILE_ENV
from local.tokens_file import TOKENS_FILE_ENV, read_tokens_file

# Lines a suite wants printed in the run's summary (tests/e2e/conftest.py prints them).
SUMMARY_LINES = pytest.StashKey[list[str]]()

# Generous: a loaded two-core machine starts Python, moto and the first instances slowly.
READY_TIMEOUT_SECONDS = 180.0
# The bound the stack promises for Ctrl-C (decision 0029); after it, stop() kills and reports the overrun.
STOP_BOUND_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 60.0
READY_PATH = "/health/ready"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command() -> list[str]:
    """How to run the ``firstmile`` CLI of this checkout."""
    script = Path(sys.executable).parent / "firstmile"
    return [str(script)] if script.exists() else [sys.executable, "-m", "local.cli"]


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        """The problem code, when the answer is a problem document."""
        if self.headers.get("Content-Type") != "application/problem+json":
            return None
        return str(self.json().get("code"))


def call(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> Reply:
    """One request; a ``body`` is sent as JSON. Every status is an answer, not an exception."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {**({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    api_url: str
    port: int
    aws_port: int
    env: dict[str, str]
    stdout: Path
    stderr: Path
    tokens_path: Path
    # Every answer GET /health/ready gave while the stack started: (seconds since start, status, problem code).
    readiness: list[tuple[float, int, str | None]] = field(default_factory=list)
    # Whether the tokens file existed (and held tokens) when /health/ready first answered 200.
    tokens_when_ready: dict[str, str] | None = None
    # How long the last stop() took from Ctrl-C to the exit of the stack's process.
    stop_seconds: float | None = None

    def output(self) -> str:
        """What the console showed, then the end of the log file."""
        console = self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")
        logged = self.log_path.read_text(errors="replace").splitlines()[-60:] if self.log_path.exists() else []
        return console + "\n--- the end of the log file ---\n" + "\n".join(logged)

    def console(self) -> str:
        """What the console showed (stdout, then stderr)."""
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    @property
    def log_path(self) -> Path:
        """The log file with everything (``local.console``)."""
        return Path(self.env[LOG_FILE_ENV])

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def aws(self, service: str) -> Any:
        """A boto3 client for the stack's emulator."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def tokens(self) -> dict[str, str]:
        """What ``firstmile dev`` wrote to its tokens file."""
        return read_tokens_file(self.tokens_path)

    def url(self, path: str) -> str:
        return self.api_url + path


def start(directory: Path, *, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> RunningStack:
    """``firstmile dev`` on free ports, its tokens file in ``directory``; returns once it is usable.

    Usable is what the README promises a script: ``GET /health/ready`` answers 200 (it answers 503 ``SYS_STARTING``
    until the demo is seeded and the tokens file is written). The file is read at that very moment.
    """
    port, aws_port = free_port(), free_port()
    tokens_path = directory / "tokens.env"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
    env |= {"FIRSTMILE_PORT": str(port), "FIRSTMILE_AWS_PORT": str(aws_port), TOKENS_FILE_ENV: str(tokens_path)}
    env |= {LOG_FILE_ENV: str(directory / "dev.log")}
    # No demo users walking in the background while tests measure and count (test_local_analytics walks its own).
    env |= {DEMO_USERS_ENV: "0"}
    env |= extra_env or {}
    stdout, stderr = directory / "dev.out", directory / "dev.err"
    began = time.monotonic()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen([*command(), "dev", *args], stdout=out, stderr=err, env=env)  # noqa: S603
    stack = RunningStack(process, f"http://127.0.0.1:{port}", port, aws_port, env, stdout, stderr, tokens_path)
    deadline = began + READY_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"firstmile dev exited with {process.returncode}:\n{stack.output()}")
        reply = _probe(stack.url(READY_PATH))
        if reply is not None:
            stack.readiness.append((time.monotonic() - began, reply.status, reply.code))
            if reply.status == 200:
                stack.tokens_when_ready = read_tokens_file(tokens_path) if tokens_path.exists() else None
                return stack
        if time.monotonic() > deadline:
            stop(stack, bound=None)
            raise AssertionError(f"firstmile dev was not ready after {READY_TIMEOUT_SECONDS:.0f} s:\n{stack.output()}")
        time.sleep(0.1)


def _probe(url: str) -> Reply | None:
    """One readiness request; ``None`` while nothing answers yet."""
    request = urllib.request.Request(url)  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())
    except OSError:
        return None


def stop(stack: RunningStack, *, bound: float | None = STOP_BOUND_SECONDS, again_after: float | None = None) -> int:
    """Ctrl-C, then wait (a kill after the timeout); the exit status. ``stop_seconds`` says how long it took, and
    a stop slower than ``bound`` fails the test that asked for it. ``again_after``: the same Ctrl-C arrives a second
    time that many seconds later, as ``uv run`` (which ``make dev`` uses) forwards the terminal's to its child."""
    if stack.process.poll() is None:
        began = time.monotonic()
        stack.process.send_signal(signal.SIGINT)
        if again_after is not None:
            time.sleep(again_after)
            if stack.process.poll() is None:
                stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()
        stack.stop_seconds = time.monotonic() - began
        if bound is not None and stack.stop_seconds > bound:
            raise AssertionError(
                f"firstmile dev took {stack.stop_seconds:.1f} s to stop after Ctrl-C (bound {bound:.0f} s):\n"
                f"{stack.output()[-4000:]}"
            )
    return stack.process.returncode


def run_cli(stack: RunningStack, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One ``firstmile`` command with the stack's environment."""
    return subprocess.run(  # noqa: S603 - this checkout's own CLI
        [*command(), *args], env=env or stack.env, capture_output=True, text=True, timeout=180, check=False
    )


def send(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
) -> Reply:
    """One request with a raw body, sent from ``source_ip`` (any 127.0.0.0/8 address: the gateway counts failed
    authentications per source address, so suites that provoke them use an address of their own)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=60, source_address=(source_ip, 0)
    )
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


@dataclass(frozen=True)
class TenantTokens:
    """A tenant of its own for a suite, its API client and tokens minted for it (user, admin) and the operator."""

    tenant_id: str
    client_id: str
    client_secret: str
    user: str
    admin: str
    operator: str

    def for_role(self, role: str) -> str | None:
        """The token a route of ``role`` needs (``None`` for public routes)."""
        return {"user": self.user, "admin": self.admin, "operator": self.operator}.get(role)


def tenant_with_tokens(stack: RunningStack, tenant_id: str, *, source_ip: str = "127.0.0.1") -> TenantTokens:
    """Create ``tenant_id`` (kept if it exists) and an API client through the operator routes, and mint a user and an
    admin token for it, as the demo seed does."""
    import base64 as b64

    tokens = stack.tokens()
    operator = {"Authorization": f"Bearer {tokens['FIRSTMILE_OPERATOR_TOKEN']}", "Content-Type": "application/json"}

    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        return send(stack.url(path), "POST", headers=headers, body=json.dumps(body).encode(), source_ip=source_ip)

    created = post("/v1/operator/tenants", {"tenant_id": tenant_id, "name": f"{tenant_id} tests"}, operator)
    assert created.status in (201, 409), created.body
    issued = post(
        f"/v1/operator/tenants/{tenant_id}/clients", {"name": "tests", "allowed_roles": ["user", "admin"]}, operator
    )
    assert issued.status == 201, issued.body
    client_id, secret = issued.json()["client"]["client_id"], issued.json()["client_secret"]
    basic = {
        "Authorization": "Basic " + b64.b64encode(f"{client_id}:{secret}".encode()).decode(),
        "Content-Type": "application/json",
    }

    def mint(user: str, roles: list[str]) -> str:
        reply = post("/v1/auth/token", {"grant_type": "client_credentials", "user_id": user, "roles": roles}, basic)
        assert reply.status == 200, reply.body
        return str(reply.json()["access_token"])

    return TenantTokens(
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=secret,
        user=mint(f"{tenant_id}-user", ["user"]),
        admin=mint(f"{tenant_id}-admin", ["user", "admin"]),
        operator=tokens["FIRSTMILE_OPERATOR_TOKEN"],
    )


def until(what: str, probe: Callable[[], Any], ready: Callable[[Any], bool], timeout: float, pause: float = 1.0) -> Any:
    """``probe()`` again every ``pause`` seconds until ``ready`` holds of its answer (which is returned); fails naming
    ``what`` and the last answer after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if ready(answer):
            return answer
        assert time.monotonic() < deadline, f"{what}: {answer}"
        time.sleep(pause)
