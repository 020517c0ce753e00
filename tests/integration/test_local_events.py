"""The sample events under events/: one per function at least, each shaped like its trigger's, each invokable."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from functions.catalog import CATALOG, Function, Queue, Route, Schedule, TableStream
from local.events import match_path

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def samples_of(function: Function) -> list[Path]:
    """``events/<function>.json`` and ``events/<function>/*.json``."""
    single = EVENTS_DIR / f"{function.name}.json"
    return ([single] if single.exists() else []) + sorted((EVENTS_DIR / function.name).glob("*.json"))


SAMPLES = [(function, path) for function in CATALOG for path in samples_of(function)]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_function_has_a_sample_event() -> None:
    # Given the catalogue
    # When the samples of each function are listed
    missing = [f.name for f in CATALOG if not samples_of(f)]

    # Then none is without one
    assert missing == []


@pytest.mark.parametrize(("function", "path"), SAMPLES, ids=[p.stem for _, p in SAMPLES])
def test_sample_is_shaped_like_its_trigger(function: Function, path: Path) -> None:
    # Given a sample event
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    # When it is compared with the function's trigger
    trigger = function.trigger

    # Then it is the event that trigger produces
    if isinstance(trigger, Route):
        assert event["version"] == "2.0"
        assert event["routeKey"] == event["requestContext"]["routeKey"] == trigger.key
        assert event["requestContext"]["http"]["method"] == trigger.method
        assert match_path(trigger.path, event["rawPath"]) is not None
    elif isinstance(trigger, Schedule):
        assert (event["source"], event["detail-type"]) == ("aws.scheduler", "Scheduled Event")
    elif isinstance(trigger, Queue):
        assert {r["eventSource"] for r in event["Records"]} == {"aws:sqs"}
    elif isinstance(trigger, TableStream):
        assert {r["eventSource"] for r in event["Records"]} == {"aws:dynamodb"}


@pytest.mark.parametrize(("function", "path"), SAMPLES, ids=[p.stem for _, p in SAMPLES])
def test_firstmile_invoke_runs_the_sample(function: Function, path: Path) -> None:
    # Given no local stack running on the emulator port, so invoke uses a temporary emulator
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
    env["FIRSTMILE_AWS_PORT"] = str(_closed_port())

    # When the sample is invoked from the command line
    result = subprocess.run(  # noqa: S603 - this interpreter and the project's own CLI
        [sys.executable, "-m", "local.cli", "invoke", function.name, str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )

    # Then the function succeeded (an HTTP function with a 2xx answer)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    if isinstance(function.trigger, Route):
        assert 200 <= answer["statusCode"] < 300, answer
    else:
        assert "errorType" not in answer
