"""What ``firstmile dev`` shows on the console, and the log file that keeps everything (decision 0029).

Quiet by default. The console gets one line per request (``local.access``: method, path, status, the function that
answered, milliseconds, correlation id, and the problem code of an error), the stack's own events (records marked
``extra=CONSOLE``: a job fired, seeding failed, a message given up on...) and the stack's warnings and errors as one
short line each: never a traceback, which goes to the log file instead.

The log file (``.local/dev.log``, or ``FIRSTMILE_LOG_FILE``) gets everything, one JSON object per line: every record
of the stack's process with its traceback (the emulator's and its libraries' included), and, written straight by
those processes, the stdout and stderr of every function instance (Powertools' JSON logs), of the fork server and of
the table engine. It starts empty at each start.

``firstmile dev --verbose`` (or ``FIRSTMILE_VERBOSE=1``) shows everything on the console as well: every record of the
stack with its traceback, and every line the functions and the table engine write to the log file, as it is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

LOG_FILE_ENV = "FIRSTMILE_LOG_FILE"
VERBOSE_ENV = "FIRSTMILE_VERBOSE"
DEFAULT_LOG_FILE = Path(__file__).resolve().parent.parent / ".local" / "dev.log"
ACCESS_LOGGER = "local.access"
# ``log.info(..., extra=CONSOLE)``: an event of the stack worth a line on the quiet console.
CONSOLE: Mapping[str, Any] = {"console": True}
# Every record the stack itself writes to the log file starts with this, so the verbose console's follower can
# tell the stack's lines (already on the console) from those of the functions and the table engine.
_STACK_PREFIX = '{"source": "firstmile-dev"'
_FOLLOW_INTERVAL_SECONDS = 0.2


def log_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``firstmile dev`` writes its log: ``FIRSTMILE_LOG_FILE``, by default ``.local/dev.log``."""
    env = os.environ if environ is None else environ
    raw = env.get(LOG_FILE_ENV, "").strip()
    return Path(raw) if raw else DEFAULT_LOG_FILE


def verbose_from(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the traceback as text."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "source": "firstmile-dev",
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("method", "path", "status", "function", "duration_ms", "correlation_id", "code"):
            if hasattr(record, key):
                document[key] = getattr(record, key)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class QuietFormatter(logging.Formatter):
    """``HH:MM:SS message``; a failure is named by its type and message, its traceback left to the log file."""

    def __init__(self, log_path: Path) -> None:
        super().__init__("%(asctime)s %(message)s", datefmt="%H:%M:%S")
        self._where = f"traceback in {shown(log_path)}"

    def format(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(self._prepared(record))
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line += f" ({type(error).__name__}: {error}; {self._where})"
        return line

    def _prepared(self, record: logging.LogRecord) -> logging.LogRecord:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        return record


class QuietFilter(logging.Filter):
    """Requests, marked events, the stack's warnings and errors, and other libraries' errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER or getattr(record, "console", False):
            return True
        if record.name == "local" or record.name.startswith("local."):
            return record.levelno >= logging.WARNING
        return record.levelno >= logging.ERROR


@dataclass
class DevLogging:
    """The console and the log file of one ``firstmile dev``."""

    path: Path
    verbose: bool
    # Where function instances, the fork server and the table engine write their stdout and stderr.
    output: int
    _follower: threading.Thread | None = None
    _stopping: threading.Event | None = None

    @classmethod
    def start(cls, path: Path, *, verbose: bool, console: IO[str] | None = None) -> DevLogging:
        """Open the log file (emptied) and route every record of this process: to it, and to the console."""
        path.parent.mkdir(parents=True, exist_ok=True)
        output = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        stream = console or sys.stderr
        file_handler = logging.StreamHandler(os.fdopen(os.dup(output), "a", encoding="utf-8", buffering=1))
        file_handler.setFormatter(JsonFormatter())
        console_handler = logging.StreamHandler(stream)
        if verbose:
            console_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        else:
            console_handler.setFormatter(QuietFormatter(path))
            console_handler.addFilter(QuietFilter())
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(file_handler)
        root.addHandler(console_handler)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        # moto's development server logs every request it serves; the stack reports what matters itself.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logs = cls(path, verbose, output)
        if verbose:
            logs._follow(stream)
        return logs

    def _follow(self, console: IO[str]) -> None:
        """Copy to the console every line the functions and the table engine write to the log file."""
        self._stopping = threading.Event()
        stopping = self._stopping

        def follow() -> None:
            with self.path.open("r", encoding="utf-8", errors="replace") as source:
                pending = ""
                while True:
                    chunk = source.read()
                    if chunk:
                        pending += chunk
                        *lines, pending = pending.split("\n")
                        for line in lines:
                            if line and not line.startswith(_STACK_PREFIX):
                                console.write(line + "\n")
                        console.flush()
                    elif stopping.is_set():
                        return
                    else:
                        time.sleep(_FOLLOW_INTERVAL_SECONDS)

        self._follower = threading.Thread(target=follow, name="log-follower", daemon=True)
        self._follower.start()

    def stop(self) -> None:
        """Show what is left to follow, then stop following; the processes' output descriptor is closed."""
        if self._stopping is not None and self._follower is not None:
            self._stopping.set()
            self._follower.join(timeout=1)
        with contextlib.suppress(OSError):
            os.close(self.output)


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, as a developer would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
