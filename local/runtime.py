"""Function instances as Lambda runs them: one process per instance, one invocation at a time, timeouts enforced.

Each function has a small pool of worker processes (``local.worker``) with its own environment. A pool grows on
demand up to a limit (lower when the catalogue reserves less concurrency), reuses warm instances, stops instances
that stay idle, and replaces an instance that exceeded the function's timeout, as Lambda does.
"""

from __future__ import annotations

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


class Instance:
    """One worker process running one function."""

    def __init__(self, function: Function, env: dict[str, str]) -> None:
        self.function = function
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed module, a catalogue path
            [sys.executable, "-m", "local.worker", str(function.handler_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO_ROOT,
            # Its own session: Ctrl-C in the terminal reaches the stack, which then stops its instances in order.
            start_new_session=True,
        )
        self.ready = False
        self.last_used = time.monotonic()
        self._buffer = b""

    def initialise(self, timeout: float) -> float:
        """Wait for the handler import; the init duration in ms. Raises ``_InstanceGoneError`` with the reason."""
        message = self._receive(time.monotonic() + timeout)
        if message is None:
            raise _InstanceGoneError(FunctionError("init", "Runtime.InitTimeout", "initialisation timed out"))
        if message.get("kind") != "ready":
            error = message.get("error") or {}
            raise _InstanceGoneError(
                FunctionError("init", error.get("errorType", "Runtime.InitError"), error.get("errorMessage", ""))
            )
        self.ready = True
        return float(message.get("init_ms", 0.0))

    def invoke(self, event: Any, context: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """Send one event; the answer, or ``None`` when the deadline passed first."""
        try:
            assert self.process.stdin is not None  # noqa: S101 - set by Popen(stdin=PIPE)
            self.process.stdin.write(json.dumps({"event": event, "context": context}).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _InstanceGoneError(FunctionError("crash", "Runtime.ExitError", "the instance exited")) from exc
        return self._receive(deadline)

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None  # noqa: S101 - set by Popen(stdout=PIPE)
        fd = self.process.stdout.fileno()
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
                code = self.process.wait()
                raise _InstanceGoneError(
                    FunctionError("crash", "Runtime.ExitError", f"the instance exited with status {code}")
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)  # type: ignore[no-any-return]

    def stop(self, grace_seconds: float = 2.0) -> None:
        """End the instance: close its input (it exits when idle), then kill it if it lingers."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def interrupt(self) -> None:
        """Kill the process of a busy instance; the thread waiting on it then sees it gone and cleans up."""
        if self.process.poll() is None:
            self.process.kill()

    def kill(self) -> None:
        """End the instance now (after a timeout or a failure), from the thread that owns it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


class FunctionPool:
    """The instances of one function."""

    def __init__(self, function: Function, env: dict[str, str], limit: int) -> None:
        self.function = function
        self._env = env
        self._limit = max(1, limit)
        self._idle: list[Instance] = []
        self._all: set[Instance] = set()
        self._starting = 0
        self._closed = False
        self._changed = threading.Condition()

    def acquire(self) -> Instance:
        """A warm idle instance, or a new one while under the limit; otherwise wait for one to free up."""
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
            instance = Instance(self.function, self._env)
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

    def close(self) -> None:
        """Stop every instance; busy ones are killed, which ends their invocations as failed."""
        with self._changed:
            self._closed = True
            idle, busy = list(self._idle), [i for i in self._all if i not in self._idle]
            self._idle.clear()
            self._all.clear()
            self._changed.notify_all()
        for instance in busy:
            instance.interrupt()
        for instance in idle:
            instance.stop()

    @property
    def pids(self) -> list[int]:
        with self._changed:
            return sorted(i.process.pid for i in self._all)


class Runtime:
    """Invokes the catalogue's functions, each in its own pool of instances."""

    def __init__(
        self,
        catalog: Iterable[Function],
        environment: Callable[[Function], dict[str, str]],
        *,
        max_instances: int = 4,
        idle_seconds: float = 300.0,
    ) -> None:
        self._functions = {f.name: f for f in catalog}
        self._environment = environment
        self._max_instances = max_instances
        self._idle_seconds = idle_seconds
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reaper: threading.Thread | None = None

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
        instance = pool.acquire()
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
        instance = pool.acquire()
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
                self._pools[name] = FunctionPool(function, self._environment(function), limit)
            return self._pools[name]

    def start(self) -> Runtime:
        """Start stopping idle instances in the background."""
        self._reaper = threading.Thread(target=self._reap_forever, name="instance-reaper", daemon=True)
        self._reaper.start()
        return self

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

    def stop(self) -> None:
        """Stop every instance and take no more invocations."""
        self._stopping.set()
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
        if self._reaper is not None:
            self._reaper.join(timeout=5)


def _report(outcome: Invocation) -> None:
    # One line per invocation, like Lambda's REPORT line.
    cold = f" init {outcome.init_ms:.0f} ms" if outcome.init_ms is not None else ""
    status = "ok" if outcome.error is None else f"{outcome.error.kind}: {outcome.error.error_type}"
    log.info("REPORT %s %s %.0f ms%s %s", outcome.function, outcome.request_id, outcome.duration_ms, cold, status)
