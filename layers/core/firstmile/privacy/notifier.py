"""How a one-time code reaches the user who asked for their erasure (decision 0083).

- **Deployed**: Amazon SES sends it to the address the user's access token carries (the ``email`` attribute the
  customer's backend put in the session), from the deployment's sender address.
- **Locally**: an outbox, a JSON-lines file that ``make dev`` prints as messages arrive and ``firstmile outbox``
  reads. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Protocol

from firstmile import errors as e
from firstmile.errors import DomainError

EMAIL_ATTRIBUTE = "email"


class Notifier(Protocol):
    def check_address(self, address: str | None) -> None:
        """Refuse (VAL_CONTACT_ADDRESS_MISSING) before a request is stored when the code could not be sent."""
        ...

    def send_code(
        self, tenant: str, user: str, address: str | None, request_id: str, code: str, expires_at: datetime
    ) -> None:
        """Deliver ``code`` for ``request_id`` to the user."""
        ...


def _message(code: str, expires_at: datetime) -> str:
    return (
        f"Your code to confirm the erasure of your data is {code}. It expires at "
        f"{expires_at.strftime('%H:%M UTC')}. If you did not ask for this, ignore this message."
    )


class OutboxNotifier:
    """Appends each message to a JSON-lines file (the local stack's outbox)."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)

    def check_address(self, address: str | None) -> None:
        """Any user can be reached: the outbox is addressed to their id when the session carries no email."""

    def send_code(
        self, tenant: str, user: str, address: str | None, request_id: str, code: str, expires_at: datetime
    ) -> None:
        line = {
            "tenant": tenant,
            "user": user,
            "to": address or f"user:{user}",
            "request_id": request_id,
            "code": code,
            "expires_at": expires_at.isoformat(),
            "text": _message(code, expires_at),
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line, appended: concurrent function instances never interleave within a line.
        descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        finally:
            os.close(descriptor)


class SesNotifier:
    """Sends each message by Amazon SES from ``sender``."""

    def __init__(self, sender: str) -> None:
        self._sender = sender

    def check_address(self, address: str | None) -> None:
        if not address:
            raise DomainError(
                e.VAL_CONTACT_ADDRESS_MISSING,
                "The caller's session carries no email attribute to send the code to; the customer's backend sets "
                "it when it starts the session.",
            )

    def send_code(
        self, tenant: str, user: str, address: str | None, request_id: str, code: str, expires_at: datetime
    ) -> None:
        self.check_address(address)
        assert address is not None  # noqa: S101 - checked just above
        from firstmile.platform.email import send_text

        send_text(self._sender, address, "Your erasure confirmation code", _message(code, expires_at))


def read_outbox(path: str) -> list[dict[str, str]]:
    """Every message in the outbox, oldest first (``firstmile outbox`` and the tests)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
