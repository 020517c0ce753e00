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


class QueueMessages:
    """Raw messages of the deployment's queues, by logical name: what the dead-letter collector receives and deletes,
    and what a retry sends back (a body and its attributes, as they were)."""

    def _url(self, name: str) -> str:
        url = get_settings().queue_urls.get(name)
        if not url:
            raise DependencyUnavailableError(f"queue {name}", "this function has no URL for it")
        return url

    def receive(self, name: str, *, at_most: int = 10, hide_seconds: int = 60) -> list[dict[str, Any]]:
        """Up to ``at_most`` (at most 10) visible messages, with every system and message attribute; they stay
        hidden ``hide_seconds`` unless deleted."""
        try:
            answer = aws.sqs().receive_message(
                QueueUrl=self._url(name),
                MaxNumberOfMessages=max(1, min(at_most, _SQS_BATCH)),
                VisibilityTimeout=hide_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailableError(f"queue {name}", type(exc).__name__) from exc
        return [dict(message) for message in answer.get("Messages", [])]

    def delete(self, name: str, receipt_handle: str) -> None:
        try:
            aws.sqs().delete_message(QueueUrl=self._url(name), ReceiptHandle=receipt_handle)
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailableError(f"queue {name}", type(exc).__name__) from exc

    def send(self, name: str, body: str, attributes: dict[str, str]) -> str:
        """Send ``body`` with string ``attributes``; the new message's id."""
        try:
            answer = aws.sqs().send_message(
                QueueUrl=self._url(name),
                MessageBody=body,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailableError(f"queue {name}", type(exc).__name__) from exc
        return str(answer["MessageId"])
