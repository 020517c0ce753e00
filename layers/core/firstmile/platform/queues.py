"""Sending JSON messages to the deployment's queues, by logical name (``Settings.queue_urls``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from firstmile.config import get_settings
from firstmile.errors import DependencyUnavailableError
from firstmile.platform import aws

_SQS_BATCH = 10


class JsonQueue:
    """A queue of the deployment that takes JSON messages; its URL is looked up when first sending."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, messages: Sequence[dict[str, Any]]) -> None:
        """Send every message, ten per request; raises ``DependencyUnavailableError`` unless all were accepted."""
        url = get_settings().queue_urls.get(self.name)
        if not url:
            raise DependencyUnavailableError(f"queue {self.name}", "this function has no URL for it")
        for start in range(0, len(messages), _SQS_BATCH):
            chunk = messages[start : start + _SQS_BATCH]
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(m, separators=(",", ":"), default=str)}
                for n, m in enumerate(chunk)
            ]
            try:
                response = aws.sqs().send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
            except (BotoCoreError, ClientError) as exc:
                raise DependencyUnavailableError(f"queue {self.name}", type(exc).__name__) from exc
            if response.get("Failed"):
                raise DependencyUnavailableError(f"queue {self.name}", f"{len(response['Failed'])} messages refused")
