"""How the local stack is set up: address, ports, stage and CORS allow-list, read from ``FIRSTMILE_*`` variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

HOST = "127.0.0.1"
STAGE = "local"
PORT_ENV = "FIRSTMILE_PORT"
AWS_PORT_ENV = "FIRSTMILE_AWS_PORT"
CORS_ENV = "FIRSTMILE_CORS_ALLOW_ORIGINS"
INSTANCE_START_ENV = "FIRSTMILE_INSTANCE_START"
DEMO_USERS_ENV = "FIRSTMILE_DEMO_USERS"
# Tests only: the work queues' visibility timeout in seconds instead of six times the consumer's timeout, so a message
# that keeps failing reaches its dead-letter queue in a test's time (five receives). Nothing deployed has it.
VISIBILITY_ENV = "FIRSTMILE_VISIBILITY_TIMEOUT_SECONDS"
# Demo users `firstmile dev` walks through the demo flow once it is ready (local.demo_users).
DEFAULT_DEMO_USERS = 300
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
    # How a function instance starts: forked from the fork server (decision 0020), or as a fresh interpreter.
    instance_start: Literal["fork", "process"] = "fork"
    host: str = HOST
    # Demo users walked through the demo flow in the background once the stack is ready; 0: none. `firstmile dev`
    # walks DEFAULT_DEMO_USERS unless FIRSTMILE_DEMO_USERS says otherwise; a stack a test or a benchmark builds, none.
    demo_users: int = 0
    # Where the ports came from, for messages: the variables, the running stack's tokens file, or the defaults.
    origin: str = field(default="the defaults", compare=False)

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
            instance_start=_instance_start(env),
            demo_users=_demo_users(env),
            origin=_origin(env, (PORT_ENV, AWS_PORT_ENV)),
        )

    @classmethod
    def for_commands(cls, environ: Mapping[str, str] | None = None, tokens_path: Path | None = None) -> LocalConfig:
        """The running stack as a ``firstmile`` command finds it: ``FIRSTMILE_PORT`` and ``FIRSTMILE_AWS_PORT`` when
        set; otherwise the ports the running stack recorded in its tokens file (``firstmile dev`` writes them, and
        removes the file when it stops); otherwise the defaults."""
        from local.tokens_file import running_stack_values, tokens_file

        env = dict(os.environ if environ is None else environ)
        path = tokens_path or tokens_file(env)
        recorded = running_stack_values(path)
        taken = {
            name: recorded[name]
            for name in (PORT_ENV, AWS_PORT_ENV)
            if not env.get(name, "").strip() and recorded.get(name, "").strip()
        }
        config = cls.from_env({**env, **taken})
        if not taken:
            return config
        named = [name for name in (PORT_ENV, AWS_PORT_ENV) if name not in taken and env.get(name, "").strip()]
        origin = " and ".join([*named, f"the running stack's {_shown(path)}"])
        return LocalConfig(
            port=config.port,
            aws_port=config.aws_port,
            stage=config.stage,
            cors_allow_origins=config.cors_allow_origins,
            origin=origin,
        )


def _demo_users(env: Mapping[str, str]) -> int:
    raw = env.get(DEMO_USERS_ENV, "").strip()
    if not raw:
        return DEFAULT_DEMO_USERS
    if not raw.isdigit() or int(raw) > 5000:
        raise ConfigError(f"{DEMO_USERS_ENV}={raw!r}: use a whole number from 0 (none) to 5000.")
    return int(raw)


def _instance_start(env: Mapping[str, str]) -> Literal["fork", "process"]:
    raw = env.get(INSTANCE_START_ENV, "").strip() or "fork"
    if raw not in ("fork", "process"):
        raise ConfigError(f"{INSTANCE_START_ENV}={raw!r}: use fork (the default) or process.")
    return "fork" if raw == "fork" else "process"


def _origin(env: Mapping[str, str], names: tuple[str, ...]) -> str:
    named = [name for name in names if env.get(name, "").strip()]
    return " and ".join(named) if named else "the defaults"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
