"""Function instances as Lambda runs them: one process per instance, one invocation at a time, timeouts enforced.

Each function has a small pool of instances, each a process forked from the fork server (``local.forkserver``)
with the function's own environment, running ``local.worker``. A pool grows on demand up to a limit (lower when
the catalogue reserves less concurrency), reuses warm instances, stops instances that stay idle, and replaces an
instance that exceeded the function's timeout, as Lambda does. The first invocation of an instance reports its
init duration (from asking for the process to its handler imported), as Lambda reports a cold start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from functions.catalog import Function
from local.environment import REPO_ROOT, function_arn, log_group_name
from local.forkserver import ForkServer, ForkServerError

log = logging.getLogger(__name__)

# Lambda allows 10 s to initialise; a loaded laptop importing boto3 and pydantic for the first time can be slower.
INIT_TIMEOUT_SECONDS = 30.0
ErrorKind = Literal["unhandled", "timeout", "init", "crash"]


class RuntimeStoppedError(RuntimeError):
    """The runtime is shutting down and takes no more invocations."""


@dataclass(frozen=True)
class FunctionError:
    """Why an invocation produced no result."""

    kind: ErrorKind
    error_type: str
    message: str


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation."""

    function: str
    request_id: str
    duration_ms: float
    payload: Any = None
    error: FunctionError | None = None
    init_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def cold_start(self) -> bool:
        return self.init_ms is not None


class _InstanceGoneError(Exception):
    """The instance's process ended or stopped answering."""


class InstanceStartError(RuntimeError):
    """No process could be started for an instance (the fork server failed, or the system refused a process)."""


class _Process:
    """The process behind an instance: where requests go, where answers come from, how it ends."""

    pid: int
    answers: int

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def close_requests(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    def exited(self) -> str:
        """Why the answers ended (called once they did)."""
        return "the instance exited"

    def release(self) -> None:
        """Close what is left of the pipes (the process has ended or was killed)."""
        self.close_requests()
        with contextlib.suppress(OSError):
            os.close(self.answers)


class _ChildProcess(_Process):
    """A fresh interpreter running ``python -m local.worker`` (``FIRSTMILE_INSTANCE_START=process``)."""

    def __init__(self, function: Function, env: dict[str, str], output: int | None) -> None:
        self.popen = subprocess.Popen(  # noqa: S603 - this interpreter, fixed module, a catalogue path
            [sys.executable, "-m", "local.worker", str(function.handler_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=output,
            env=env,
            cwd=REPO_ROOT,
            # Its own session: Ctrl-C in the terminal reaches the stack, which then stops its instances.
            start_new_session=True,
        )
        assert self.popen.stdout is not None  # noqa: S101 - set by Popen(stdout=PIPE)
        self.pid = self.popen.pid
        self.answers = self.popen.stdout.fileno()

    def send(self, data: bytes) -> None:
        assert self.popen.stdin is not None  # noqa: S101 - set by Popen(stdin=PIPE)
        self.popen.stdin.write(data)
        self.popen.stdin.flush()

    def close_requests(self) -> None:
        with contextlib.suppress(OSError):
            if self.popen.stdin is not None:
                self.popen.stdin.close()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()

    def exited(self) -> str:
        return f"the instance exited with status {self.popen.wait()}"

    def release(self) -> None:
        self.close_requests()
        with contextlib.suppress(OSError):
            if self.popen.stdout is not None:
                self.popen.stdout.close()
        try:
            self.popen.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class _ForkedProcess(_Process):
    """A child of the fork server."""

    def __init__(self, server: ForkServer, function: Function, env: dict[str, str]) -> None:
        self._server = server
        try:
            forked = server.spawn(function.handler_path, function.name, env)
        except ForkServerError as exc:
            raise InstanceStartError(str(exc)) from exc
        self.pid = forked.pid
        self.answers = forked.answers
        self._requests: int | None = forked.requests

    def send(self, data: bytes) -> None:
        if self._requests is None:
            raise BrokenPipeError("the instance's requests are closed")
        view = memoryview(data)
        while view:
            written = os.write(self._requests, view)
            view = view[written:]

    def close_requests(self) -> None:
        requests, self._requests = self._requests, None
        if requests is not None:
            with contextlib.suppress(OSError):
                os.close(requests)

    def kill(self) -> None:
        self._server.kill(self.pid)


class Instance:
    """One process running one function."""

    def __init__(self, function: Function, process: _Process) -> None:
        self.function = function
        self.process = process
        self.started = time.monotonic()
        self.ready = False
        self.last_used = time.monotonic()
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def initialise(self, timeout: float) -> float:
        """Wait for the handler import; the init duration in ms (from the start of the process to its handler
        imported). Raises ``_InstanceGoneError`` with the reason."""
        message = self._receive(time.monotonic() + timeout)
        if message is None:
            raise _InstanceGoneError(FunctionError("init", "Runtime.InitTimeout", "initialisation timed out"))
        if message.get("kind") != "ready":
            error = message.get("error") or {}
            raise _InstanceGoneError(
                FunctionError("init", error.get("errorType", "Runtime.InitError"), error.get("errorMessage", ""))
            )
        self.ready = True
        return (time.monotonic() - self.started) * 1000

    def invoke(self, event: Any, context: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """Send one event; the answer, or ``None`` when the deadline passed first."""
        try:
            self.process.send(json.dumps({"event": event, "context": context}).encode() + b"\n")
        except OSError as exc:
            raise _InstanceGoneError(FunctionError("crash", "Runtime.ExitError", "the instance exited")) from exc
        return self._receive(deadline)

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        fd = self.process.answers
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                readable, _, _ = select.select([fd], [], [], remaining)
                chunk = os.read(fd, 1 << 16) if readable else None
            except (OSError, ValueError) as exc:
                raise _InstanceGoneError(
                    FunctionError("crash", "Runtime.ExitError", "the instance was stopped")
                ) from exc
            if chunk is None:
                continue
            if not chunk:
                raise _InstanceGoneError(FunctionError("crash", "Runtime.ExitError", self.process.exited()))
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Ask an idle instance to end: its requests close, and it exits (``ended`` waits for that)."""
        self.process.close_requests()

    def ended(self, deadline: float) -> bool:
        """Wait until the instance's answers close (it exited) or ``deadline``; whether it ended."""
        fd = self.process.answers
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                readable, _, _ = select.select([fd], [], [], remaining)
                if readable and not os.read(fd, 1 << 16):
                    return True
            except (OSError, ValueError):
                return True
        return False

    def stop(self, grace_seconds: float = 2.0) -> None:
        """End an idle instance: close its requests (it exits), then kill it if it lingers."""
        self.close()
        if not self.ended(time.monotonic() + grace_seconds):
            self.process.kill()
        self.process.release()

    def interrupt(self) -> None:
        """Kill the process of a busy instance; the thread waiting on it then sees it gone and cleans up."""
        self.process.kill()

    def kill(self) -> None:
        """End the instance now (after a timeout or a failure), from the thread that owns it."""
        self.process.kill()
        self.process.release()


StartInstance = Callable[[Function, dict[str, str]], Instance]


class FunctionPool:
    """The instances of one function."""

    def __init__(self, function: Function, env: dict[str, str], limit: int, start: StartInstance) -> None:
        self.function = function
        self._env = env
        self._limit = max(1, limit)
        self._start = start
        self._idle: list[Instance] = []
        self._all: set[Instance] = set()
        self._starting = 0
        self._closed = False
        self._changed = threading.Condition()

    def acquire(self) -> Instance:
        """A warm idle instance, or a new one while under the limit; otherwise wait for one to free up.

        ``InstanceStartError`` when no process could be started for a new one.
        """
        with self._changed:
            while True:
                if self._closed:
                    raise RuntimeStoppedError("the local runtime is stopping")
                if self._idle:
                    return self._idle.pop()  # the most recently used: the warmest
                if len(self._all) + self._starting < self._limit:
                    self._starting += 1
                    break
                self._changed.wait()
        try:
            instance = self._start(self.function, self._env)
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify_all()
        with self._changed:
            self._all.add(instance)
            closed = self._closed
        if closed:
            instance.kill()
            raise RuntimeStoppedError("the local runtime is stopping")
        return instance

    def release(self, instance: Instance, *, healthy: bool) -> None:
        """Return an instance after an invocation; an unhealthy one is discarded."""
        with self._changed:
            keep = healthy and not self._closed
            if keep:
                instance.last_used = time.monotonic()
                self._idle.append(instance)
            else:
                self._all.discard(instance)
            self._changed.notify_all()
        if not keep:
            instance.kill()

    def reap(self, idle_seconds: float) -> int:
        """Stop the instances idle longer than ``idle_seconds``; how many were stopped."""
        cutoff = time.monotonic() - idle_seconds
        with self._changed:
            stale = [i for i in self._idle if i.last_used < cutoff]
            for instance in stale:
                self._idle.remove(instance)
                self._all.discard(instance)
        for instance in stale:
            instance.stop()
        return len(stale)

    def close(self) -> list[Instance]:
        """Take no more invocations: busy instances are killed (their invocations fail), idle ones are asked to
        end. Returns the idle ones, for the caller to wait on all pools' instances at once."""
        with self._changed:
            self._closed = True
            idle, busy = list(self._idle), [i for i in self._all if i not in self._idle]
            self._idle.clear()
            self._all.clear()
            self._changed.notify_all()
        for instance in busy:
            instance.interrupt()
        for instance in idle:
            instance.close()
        return idle

    @property
    def pids(self) -> list[int]:
        with self._changed:
            return sorted(i.pid for i in self._all)


StartMethod = Literal["fork", "process"]


class Runtime:
    """Invokes the catalogue's functions, each in its own pool of instances.

    Instances are forked from one fork server (``local.forkserver``) that has imported the core layer, or, with
    ``start_method="process"``, started as fresh interpreters. Their stdout and stderr go to ``output`` (a file
    descriptor; ``None``: this process's stderr).
    """

    def __init__(
        self,
        catalog: Iterable[Function],
        environment: Callable[[Function], dict[str, str]],
        *,
        max_instances: int = 4,
        idle_seconds: float = 300.0,
        start_method: StartMethod = "fork",
        output: int | None = None,
    ) -> None:
        self._functions = {f.name: f for f in catalog}
        self._environment = environment
        self._max_instances = max_instances
        self._idle_seconds = idle_seconds
        self._start_method = start_method
        self._output = output
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reaper: threading.Thread | None = None
        self._fork_server: ForkServer | None = None

    def function(self, name: str) -> Function:
        """The catalogue entry called ``name``."""
        return self._functions[name]

    def has(self, name: str) -> bool:
        return name in self._functions

    def invoke(self, name: str, event: Any) -> Invocation:
        """Run ``name`` once with ``event`` and wait for the outcome (at most the function's timeout)."""
        pool = self._pool(name)
        function = pool.function
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        try:
            instance = pool.acquire()
        except InstanceStartError as exc:
            refused = FunctionError("init", "Runtime.StartError", str(exc))
            outcome = Invocation(name, request_id, (time.monotonic() - started) * 1000, error=refused, init_ms=0.0)
            _report(outcome)
            return outcome
        started = time.monotonic()
        init_ms: float | None = None
        payload: Any = None
        failure: FunctionError | None = None
        healthy = False
        try:
            if not instance.ready:
                init_ms = instance.initialise(INIT_TIMEOUT_SECONDS)
            started = time.monotonic()
            context = {
                "function_name": function.name,
                "memory_limit_in_mb": function.memory_mb,
                "invoked_function_arn": function_arn(function),
                "aws_request_id": request_id,
                "deadline_ms": int((time.time() + function.timeout_seconds) * 1000),
                "log_group_name": log_group_name(function),
            }
            answer = instance.invoke(event, context, started + function.timeout_seconds)
            if answer is None:
                message = f"Task timed out after {function.timeout_seconds:.2f} seconds"
                failure = FunctionError("timeout", "TimeoutError", message)
            elif answer.get("kind") == "result":
                payload = answer.get("payload")
            else:
                error = answer.get("error") or {}
                failure = FunctionError("unhandled", error.get("errorType", "Error"), error.get("errorMessage", ""))
            # A function error leaves the instance warm, as in Lambda; a timeout replaces it.
            healthy = failure is None or failure.kind == "unhandled"
        except _InstanceGoneError as gone:
            failure = gone.args[0]
        finally:
            pool.release(instance, healthy=healthy)
        duration = (time.monotonic() - started) * 1000
        outcome = Invocation(name, request_id, duration, payload=payload, error=failure, init_ms=init_ms)
        _report(outcome)
        return outcome

    def warm(self, name: str) -> float | None:
        """Start and initialise one instance of ``name`` ahead of its first invocation (like provisioned
        concurrency); its init duration in ms, or ``None`` when it was warm already or could not start."""
        pool = self._pool(name)
        try:
            instance = pool.acquire()
        except InstanceStartError as exc:
            log.warning("%s could not be warmed: %s", name, exc)
            return None
        if instance.ready:
            pool.release(instance, healthy=True)
            return None
        try:
            init_ms = instance.initialise(INIT_TIMEOUT_SECONDS)
        except _InstanceGoneError as gone:
            pool.release(instance, healthy=False)
            log.warning("%s could not be warmed: %s", name, gone.args[0])
            return None
        pool.release(instance, healthy=True)
        log.info("WARM %s init %.0f ms", name, init_ms)
        return init_ms

    def _pool(self, name: str) -> FunctionPool:
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeStoppedError("the local runtime is stopping")
            if name not in self._pools:
                function = self._functions[name]
                limit = self._max_instances
                if function.reserved_concurrency is not None:
                    limit = min(limit, function.reserved_concurrency)
                self._pools[name] = FunctionPool(function, self._environment(function), limit, self._start_instance)
            return self._pools[name]

    def _start_instance(self, function: Function, env: dict[str, str]) -> Instance:
        if self._start_method == "process":
            try:
                return Instance(function, _ChildProcess(function, env, self._output))
            except OSError as exc:
                raise InstanceStartError(f"no process for {function.name}: {exc}") from exc
        return Instance(function, _ForkedProcess(self._fork_server_for_instances(), function, env))

    def _fork_server_for_instances(self) -> ForkServer:
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeStoppedError("the local runtime is stopping")
            if self._fork_server is None:
                # The server runs with what every function's environment shares; each child sets the rest.
                shared = shared_environment([self._environment(f) for f in self._functions.values()])
                self._fork_server = ForkServer(shared, cwd=REPO_ROOT, output=self._output).start()
            return self._fork_server

    def start(self) -> Runtime:
        """Start the fork server (it imports the layer in the background) and the reaper of idle instances."""
        if self._start_method == "fork" and self._functions:
            self._fork_server_for_instances()
        self._reaper = threading.Thread(target=self._reap_forever, name="instance-reaper", daemon=True)
        self._reaper.start()
        return self

    @property
    def fork_server(self) -> ForkServer | None:
        """The fork server, once started (``None`` with ``start_method="process"``)."""
        return self._fork_server

    def _reap_forever(self) -> None:
        interval = max(1.0, min(30.0, self._idle_seconds / 2))
        while not self._stopping.wait(interval):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap(self._idle_seconds)

    def instance_pids(self) -> list[int]:
        """The process ids of every running instance."""
        with self._lock:
            pools = list(self._pools.values())
        return sorted(pid for pool in pools for pid in pool.pids)

    def stop(self, grace_seconds: float = 1.0) -> None:
        """Take no more invocations and end every instance: busy ones at once, idle ones after at most
        ``grace_seconds`` all together, then the fork server."""
        self._stopping.set()
        with self._lock:
            pools = list(self._pools.values())
        idle = [instance for pool in pools for instance in pool.close()]
        deadline = time.monotonic() + grace_seconds
        for instance in idle:
            if not instance.ended(deadline):
                instance.process.kill()
            instance.process.release()
        with self._lock:
            server, self._fork_server = self._fork_server, None
        if server is not None:
            server.stop(grace_seconds=2.0)
        if self._reaper is not None:
            self._reaper.join(timeout=1)


def shared_environment(environments: Iterable[dict[str, str]]) -> dict[str, str]:
    """The variables every one of ``environments`` has, with the same value."""
    listed = list(environments)
    if not listed:
        return {}
    first, *others = listed
    return {k: v for k, v in first.items() if all(other.get(k) == v for other in others)}


def _report(outcome: Invocation) -> None:
    # One line per invocation, like Lambda's REPORT line (in the log file).
    cold = f" init {outcome.init_ms:.0f} ms" if outcome.init_ms is not None else ""
    status = "ok" if outcome.error is None else f"{outcome.error.kind}: {outcome.error.error_type}"
    log.info("REPORT %s %s %.0f ms%s %s", outcome.function, outcome.request_id, outcome.duration_ms, cold, status)
    error = outcome.error
    # What ended an instance is worth a line on the console; a function's own error is reported by its caller.
    if error is not None and error.kind == "timeout":
        log.warning("%s timed out (%s); its instance was ended and will be replaced", outcome.function, error.message)
    elif error is not None and error.kind in ("crash", "init"):
        log.warning("%s: %s (%s); output in the log file", outcome.function, error.message, error.error_type)
