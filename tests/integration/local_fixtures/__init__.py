"""Fixture functions for the local stack's tests: small real handlers that echo, sleep, crash or fail on demand.

``FixtureFunction`` is a catalogue entry whose code lives here instead of under ``functions/``, so the tests can
hand the local stack a catalogue of their own.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from functions.catalog import Function

FIXTURES_DIR = Path(__file__).resolve().parent
T = TypeVar("T")


@dataclass(frozen=True)
class FixtureFunction(Function):
    """A catalogue entry served by ``local_fixtures/<code>/handler.py`` (``code`` defaults to the name)."""

    code: str = ""

    @property
    def handler_path(self) -> Path:
        return FIXTURES_DIR / (self.code or self.name) / "handler.py"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def http_call(
    base_url: str, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> Reply:
    """One HTTP request, as a client sends it; any status is a reply, not an exception."""
    parsed = urlsplit(base_url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        collected: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            collected.setdefault(name.lower(), []).append(value)
        return Reply(response.status, collected, response.read())
    finally:
        connection.close()


def wait_for(condition: Callable[[], T | None], *, timeout: float = 60.0, interval: float = 0.2) -> T:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s; the last answer was {result!r}")
        time.sleep(interval)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The entries a fixture consumer appended to ``path`` (none when it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
