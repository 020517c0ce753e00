"""How the local stack is set up: address, ports, stage and CORS allow-list, read from ``FIRSTMILE_*`` variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

HOST = "127.0.0.1"
STAGE = "local"
PORT_ENV = "FIRSTMILE_PORT"
AWS_PORT_ENV = "FIRSTMILE_AWS_PORT"
CORS_ENV = "FIRSTMILE_CORS_ALLOW_ORIGINS"
DEFAULT_PORT = 8000
DEFAULT_AWS_PORT = 4566
# The usual addresses of a front end under development.
DEFAULT_CORS_ALLOW_ORIGINS = ("http://localhost:3000", "http://127.0.0.1:3000")


class ConfigError(ValueError):
    """A ``FIRSTMILE_*`` variable of the local stack has a value it cannot use."""


@dataclass(frozen=True)
class LocalConfig:
    """Where the local stack listens and how it runs functions."""

    port: int = DEFAULT_PORT
    aws_port: int = DEFAULT_AWS_PORT
    stage: str = STAGE
    cors_allow_origins: tuple[str, ...] = DEFAULT_CORS_ALLOW_ORIGINS
    # Concurrent instances of one function; a function's reserved concurrency lowers it further.
    max_instances_per_function: int = 4
    # An instance idle this long is stopped, as Lambda reclaims idle execution environments.
    instance_idle_seconds: float = 300.0
    host: str = HOST

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalConfig:
        """The configuration named by the environment, with the documented defaults."""
        env = os.environ if environ is None else environ
        return cls(
            port=_port(env, PORT_ENV, DEFAULT_PORT),
            aws_port=_port(env, AWS_PORT_ENV, DEFAULT_AWS_PORT),
            cors_allow_origins=_origins(env),
        )


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    # Port 0 asks the system for any free port; the stack then reports the port it got.
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ConfigError(f"{name}={raw!r} is not a TCP port (a number from 1 to 65535).")
    return int(raw)


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get(CORS_ENV, "").strip()
    if not raw:
        return DEFAULT_CORS_ALLOW_ORIGINS
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{CORS_ENV} must be a JSON list of origins, e.g. ["http://localhost:5173"].')
    return tuple(value)
