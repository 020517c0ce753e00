"""Listening sockets on 127.0.0.1, with a message naming the port and its variable when the port is taken."""

from __future__ import annotations

import errno
import socket

from local.config import HOST


class PortInUseError(RuntimeError):
    """A port the local stack needs is held by another process."""

    def __init__(self, port: int, env_var: str, what: str) -> None:
        super().__init__(
            f"Port {port} on {HOST} is already in use, so the {what} cannot start. "
            f"Stop whatever holds it, or choose another port: {env_var}=<port> make dev"
        )
        self.port = port
        self.env_var = env_var


def listen(host: str, port: int, *, env_var: str, what: str, backlog: int = 128) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; ``PortInUseError`` when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As every HTTP server does: a port left in TIME_WAIT by a previous run is reusable at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUseError(port, env_var, what) from exc
        raise
    return sock
