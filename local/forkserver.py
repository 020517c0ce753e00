"""The fork server: one process that has imported the core layer, and forks a function instance from it on request.

A fresh interpreter spends most of a cold start importing what every function shares (boto3 and botocore, pydantic,
Powertools, the ``firstmile`` layer): 1 to 2 s on an idle laptop, 5 to 20 s when a dozen start at once on two
cores. The fork server pays that once; a forked child then only sets its function's environment and imports the
handler (decision 0020).

The runtime (``ForkServer``, in the stack's process) starts ``python -m local.forkserver FD`` with the environment
every function of the deployment shares, in a session of its own (Ctrl-C reaches the stack, which stops it), with
stdout and stderr where function logs go. The server imports ``PRELOAD`` and every ``firstmile`` module, freezes
the garbage collector's view of them (so children do not copy those pages), reports ``ready`` on the Unix socket
FD, then answers requests there, one at a time, each a JSON line:

- ``spawn`` (the handler's path, the function's name and its whole environment, and two pipe ends passed along as
  SCM_RIGHTS: the instance's requests and its answers) forks a child and answers its pid;
- ``kill`` ends a child it forked (only its own live children: a recycled pid is never signalled).

What a child must not inherit, it does not: the server never calls AWS, never reads the settings and runs no
thread (each fork checks), so there is no client, session, socket, cached setting or lock to copy; the child
still clears ``firstmile.config``'s and ``firstmile.platform.aws``'s caches and boto3's default session, and
``random`` reseeds itself in a forked child. The child replaces its whole environment with the function's
(``LocalEnvironment.for_function``, exactly as a fresh process gets it), re-reads the time zone, names itself
after the function, then runs ``local.worker.serve``. When the runtime's socket closes (the stack stopped, or
died), the server kills its children and exits.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import pkgutil
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# What the layer's functions share, imported once here. Only imports: nothing here may read the settings, make an
# AWS client or start a thread at import (the layer's own rule: configuration is read on first use).
PRELOAD = (
    "boto3",
    "boto3.session",
    "botocore.session",
    "botocore.client",
    "botocore.config",
    "botocore.exceptions",
    "pydantic",
    "jwt",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.typing",
    "aws_lambda_powertools.utilities.data_classes",
    "firstmile",
)
LAYER_PACKAGE = "firstmile"
READY_TIMEOUT_SECONDS = 120.0
_LINE = b"\n"


class ForkServerError(RuntimeError):
    """The fork server could not start, or could not start an instance."""


# --- the runtime's side -------------------------------------------------------------------------------------------


@dataclass
class ForkedInstance:
    """A process the fork server forked: its pid, the write end of its requests, the read end of its answers."""

    pid: int
    requests: int
    answers: int


class ForkServer:
    """Starts the fork server and asks it for instances; safe to use from several threads."""

    def __init__(self, environment: dict[str, str], *, cwd: Path, output: int | None = None) -> None:
        self._environment = dict(environment)
        self._cwd = cwd
        self._output = output
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._ready: dict[str, Any] | None = None
        self._stopped = False

    def start(self) -> ForkServer:
        """Start the server process; it imports the layer in the background (``spawn`` waits for it)."""
        with self._lock:
            self._start_locked()
        return self

    def _start_locked(self) -> None:
        if self._stopped:
            raise ForkServerError("the fork server was stopped")
        if self._socket is not None:
            self._socket.close()  # a server that died: its socket goes with it
            self._socket = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
                [sys.executable, "-m", "local.forkserver", str(theirs.fileno())],
                env=self._environment,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=self._output,
                pass_fds=(theirs.fileno(),),
                # Its own session: Ctrl-C reaches the stack, which stops the server and its instances in order.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._socket = ours
        self._ready = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait until the server has imported the layer; what it reported (import time, modules, threads)."""
        with self._lock:
            return self._ready_locked(timeout)

    def _ready_locked(self, timeout: float) -> dict[str, Any]:
        if self._process is None or self._process.poll() is not None:
            self._start_locked()  # never started, or it died: one new server
        if self._ready is None:
            message = self._receive(time.monotonic() + timeout)
            if message.get("kind") != "ready":
                raise ForkServerError(f"the fork server did not start: {message}")
            self._ready = message
        return self._ready

    def spawn(self, handler: Path, name: str, environment: dict[str, str]) -> ForkedInstance:
        """A new instance running ``handler`` with exactly ``environment``; ``ForkServerError`` when it failed."""
        requests_read, requests_write = os.pipe()
        answers_read, answers_write = os.pipe()
        try:
            with self._lock:
                self._ready_locked(READY_TIMEOUT_SECONDS)
                request = {"op": "spawn", "handler": str(handler), "name": name, "env": environment}
                answer = self._exchange(request, (requests_read, answers_write))
        except BaseException:
            for fd in (requests_write, answers_read):
                os.close(fd)
            raise
        finally:
            for fd in (requests_read, answers_write):
                os.close(fd)
        if "pid" not in answer:
            for fd in (requests_write, answers_read):
                os.close(fd)
            raise ForkServerError(f"the fork server could not start {name}: {answer.get('error', answer)}")
        return ForkedInstance(int(answer["pid"]), requests_write, answers_read)

    def kill(self, pid: int) -> None:
        """End an instance this server forked (a no-op when it has exited already or the server is gone)."""
        with self._lock:
            if self._socket is None or self._ready is None:
                return
            with contextlib.suppress(ForkServerError, OSError):
                self._exchange({"op": "kill", "pid": pid}, ())

    def _exchange(self, request: dict[str, Any], fds: tuple[int, ...]) -> dict[str, Any]:
        assert self._socket is not None  # noqa: S101 - started under the same lock
        data = json.dumps(request).encode() + _LINE
        try:
            if fds:
                socket.send_fds(self._socket, [data[:1]], list(fds))
                self._socket.sendall(data[1:])
            else:
                self._socket.sendall(data)
        except OSError as exc:
            raise ForkServerError(f"the fork server is gone ({exc})") from exc
        return self._receive(time.monotonic() + 30.0)

    def _receive(self, deadline: float) -> dict[str, Any]:
        assert self._socket is not None  # noqa: S101 - started under the same lock
        buffer = b""
        while not buffer.endswith(_LINE):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ForkServerError("the fork server did not answer in time")
            readable, _, _ = select.select([self._socket], [], [], remaining)
            if not readable:
                continue
            chunk = self._socket.recv(1 << 16)
            if not chunk:
                raise ForkServerError("the fork server exited")
            buffer += chunk
        return dict(json.loads(buffer))

    def stop(self, grace_seconds: float = 2.0) -> None:
        """Close the socket: the server kills its instances and exits; killed itself when it lingers."""
        with self._lock:
            self._stopped = True
            process, sock = self._process, self._socket
            self._process = self._socket = None
        if sock is not None:
            sock.close()
        if process is None:
            return
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the server process -------------------------------------------------------------------------------------------


def preload() -> list[str]:
    """Import ``PRELOAD`` and every module of the layer; the modules that could not be imported (left to children)."""
    failed: list[str] = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a child imports it itself and reports the failure as its function's
            failed.append(f"{name}: {exc!r}")
    layer = sys.modules.get(LAYER_PACKAGE)
    if layer is not None:
        for module in pkgutil.walk_packages(layer.__path__, LAYER_PACKAGE + "."):
            try:
                importlib.import_module(module.name)
            except Exception as exc:
                failed.append(f"{module.name}: {exc!r}")
    return failed


def serve(control: socket.socket) -> int:
    """Preload, report ready, then fork instances on request until the runtime's socket closes."""
    started = time.perf_counter()
    failed = preload()
    gc.collect()
    # Everything imported so far is kept for good: the collector never visits it again, so children share its pages.
    gc.freeze()
    _reply(
        control,
        {
            "kind": "ready",
            "preload_ms": round((time.perf_counter() - started) * 1000, 1),
            "modules": len(sys.modules),
            "threads": threading.active_count(),
            "failed": failed,
        },
    )
    children: set[int] = set()
    try:
        while True:
            readable, _, _ = select.select([control], [], [], 0.5)
            _reap(children)
            if not readable:
                continue
            request, fds = _receive(control)
            if request is None:
                return 0  # the runtime closed its end
            if request.get("op") == "spawn" and len(fds) == 2:
                _reply(control, _spawn(control, request, fds, children))
            elif request.get("op") == "kill":
                pid = int(request.get("pid", 0))
                if pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                _reply(control, {"ok": True})
            else:
                for fd in fds:
                    os.close(fd)
                _reply(control, {"error": f"unknown request {request.get('op')!r}"})
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _receive(control: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    data, fds, _, _ = socket.recv_fds(control, 1 << 16, 2)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    while not data.endswith(_LINE):
        chunk = control.recv(1 << 16)
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        data += chunk
    return dict(json.loads(data)), list(fds)


def _reply(control: socket.socket, message: dict[str, Any]) -> None:
    control.sendall(json.dumps(message).encode() + _LINE)


def _reap(children: set[int]) -> None:
    while children:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)


def _spawn(control: socket.socket, request: dict[str, Any], fds: list[int], children: set[int]) -> dict[str, Any]:
    """Fork one instance; its pid, or why not."""
    if threading.active_count() != 1:
        # Forking a process that runs threads copies their locks in whatever state they are: never.
        for fd in fds:
            os.close(fd)
        return {"error": f"the fork server runs {threading.active_count()} threads"}
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        children.add(pid)
        return {"pid": pid}
    code = 1
    try:
        control.close()
        code = become_instance(request, fds[0], fds[1])
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def become_instance(request: dict[str, Any], requests_fd: int, answers_fd: int) -> int:
    """In the forked child: take the function's environment and name, forget the parent's state, serve."""
    from local import worker

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    _forget_parent_state()
    name_process(f"fm:{request['name']}")
    requests: IO[str] = os.fdopen(requests_fd, "r", encoding="utf-8")
    answers: IO[str] = os.fdopen(answers_fd, "w", encoding="utf-8")
    return worker.serve(Path(request["handler"]), requests, answers)


def _forget_parent_state() -> None:
    """Caches that a child must fill from its own environment (empty in the server; cleared to be sure)."""
    config = sys.modules.get("firstmile.config")
    if config is not None:
        config.reset_settings()
    aws = sys.modules.get("firstmile.platform.aws")
    if aws is not None:
        aws.reset_clients()
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None  # type: ignore[attr-defined]


def name_process(name: str) -> None:
    """Show ``name`` for this process in ``ps`` and ``top`` (Linux; elsewhere nothing happens)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name[:15], encoding="utf-8")


def main(argv: list[str]) -> int:
    """``python -m local.forkserver FD``: serve on the Unix socket FD."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    name_process("fm-forkserver")
    control = socket.socket(fileno=int(argv[1]))
    try:
        return serve(control)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the runtime went away mid-answer


if __name__ == "__main__":
    sys.exit(main(sys.argv))
