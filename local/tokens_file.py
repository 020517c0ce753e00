"""``.local/tokens.env``: the running stack's record for the shell and for every ``firstmile`` command.

``firstmile dev`` writes it once the stack is usable (decision 0029): where the stack listens (``FIRSTMILE_PORT``,
``FIRSTMILE_AWS_PORT``, the API URL and the emulator's endpoint) and, when the demo was seeded, its client
credentials and access tokens. ``source .local/tokens.env`` puts them in a shell; CLI commands read the ports from it
when the variables are not set. The file is replaced in one step (never seen half written), is readable by its owner
only (it holds client secrets), and is removed when the stack stops.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

TOKENS_FILE_ENV = "FIRSTMILE_TOKENS_FILE"
DEFAULT_TOKENS_FILE = Path(__file__).resolve().parent.parent / ".local" / "tokens.env"
API_URL = "FIRSTMILE_API_URL"
AWS_ENDPOINT = "FIRSTMILE_AWS_ENDPOINT"
# The outbox erasure codes go to locally (``firstmile outbox`` reads it).
OUTBOX = "FIRSTMILE_OUTBOX"


def tokens_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where the stack's record is: ``FIRSTMILE_TOKENS_FILE``, by default ``.local/tokens.env``."""
    env = os.environ if environ is None else environ
    raw = env.get(TOKENS_FILE_ENV, "").strip()
    return Path(raw) if raw else DEFAULT_TOKENS_FILE


def write_tokens_file(path: Path, values: Mapping[str, str], *, notes: tuple[str, ...] = ()) -> None:
    """``export NAME=value`` lines (quoted for any POSIX shell) after ``# notes``, readable by the owner only.

    Written to a temporary file beside ``path`` and renamed over it, so a reader sees the old file or the new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Written by `firstmile` at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC. Valid while that stack runs.",
        *(f"# {note}" for note in notes),
        *(f"export {name}={shlex.quote(value)}" for name, value in values.items()),
    ]
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        partial.chmod(0o600)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_tokens_file(path: Path) -> dict[str, str]:
    """The variables of a ``tokens.env`` file; ``FileNotFoundError`` when there is none."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


def running_stack_values(path: Path | None = None) -> dict[str, str]:
    """What the tokens file says about the running stack; empty when there is no file."""
    try:
        return read_tokens_file(path or tokens_file())
    except (OSError, ValueError):
        return {}
