"""Unit tests cannot open sockets: every connect or bind fails the test that tried it, even if the code under test
swallowed the error (a retrying SDK client, a broad ``except``). Network belongs in tests/integration."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


class SocketBlockedError(RuntimeError):
    """A unit test tried to open a connection or listen on a socket."""


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts: list[str] = []

    def refuse(operation: str) -> Any:
        def refused(sock: socket.socket, address: Any, *_: Any) -> Any:
            attempts.append(f"{operation} {address!r}")
            raise SocketBlockedError(f"unit tests cannot {operation} a socket (to {address!r})")

        return refused

    for operation in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, operation, refuse(operation))
    yield
    if attempts:
        pytest.fail(f"a unit test used the network: {', '.join(attempts)}", pytrace=False)
