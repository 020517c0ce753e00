"""The console of ``firstmile dev`` and its log file: quiet by default, everything with ``--verbose``."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.console import CONSOLE, DevLogging
from tests.integration.local_fixtures import wait_for

FUNCTION_LINE = '{"level":"INFO","message":"step recorded","function_name":"onboarding_step"}'


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def _log_everything() -> None:
    logging.getLogger("local.access").info("GET /v1/onboarding/status 200 onboarding_status 12 ms corr-1")
    logging.getLogger("local.scheduler").info("job synthetic_probe ran: ok in 80 ms", extra=CONSOLE)
    logging.getLogger("local.runtime").info("REPORT onboarding_status 12 ms")
    logging.getLogger("botocore.credentials").warning("a library's warning")
    try:
        raise ValueError("the client sent garbage")
    except ValueError:
        logging.getLogger("local.pollers").exception("the flag_exposure_worker poller failed; retrying")


def test_the_quiet_console_shows_requests_and_events_and_no_traceback(tmp_path: Path, restore_logging: None) -> None:
    # Given the quiet console and its log file
    console = io.StringIO()
    logs = DevLogging.start(tmp_path / "dev.log", verbose=False, console=console)

    # When the stack logs a request, an event, a detail, a library's warning and a failure, and a function writes
    _log_everything()
    os.write(logs.output, (FUNCTION_LINE + "\n").encode())
    logs.stop()
    for handler in logging.getLogger().handlers:
        handler.flush()

    # Then the console has the request, the event and one line for the failure naming it, nothing else
    shown = console.getvalue().splitlines()
    assert [line[9:] for line in shown[:2]] == [
        "GET /v1/onboarding/status 200 onboarding_status 12 ms corr-1",
        "job synthetic_probe ran: ok in 80 ms",
    ]
    assert len(shown) == 3
    assert "ValueError: the client sent garbage" in shown[2] and "dev.log" in shown[2]
    assert "Traceback" not in console.getvalue()
    # And the log file has every record as JSON, the traceback included, and the function's line as written
    lines = (tmp_path / "dev.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {r.get("logger") for r in records} >= {"local.access", "local.runtime", "botocore.credentials"}
    failure = next(r for r in records if r.get("logger") == "local.pollers")
    assert "Traceback" in failure["exception"]
    assert FUNCTION_LINE in lines


def test_the_verbose_console_shows_everything_once(tmp_path: Path, restore_logging: None) -> None:
    # Given the verbose console
    console = io.StringIO()
    logs = DevLogging.start(tmp_path / "dev.log", verbose=True, console=console)

    # When the stack logs and a function writes to the log file
    _log_everything()
    os.write(logs.output, (FUNCTION_LINE + "\n").encode())

    # Then the console shows every record with its traceback, and the function's line, each once
    wait_for(lambda: FUNCTION_LINE in console.getvalue(), timeout=10)
    logs.stop()
    text = console.getvalue()
    assert "REPORT onboarding_status" in text and "a library's warning" in text
    assert "Traceback" in text
    assert text.count("GET /v1/onboarding/status 200") == 1
    assert text.count(FUNCTION_LINE) == 1
