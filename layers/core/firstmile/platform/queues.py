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


def queue_url(name: str) -> str:
    """The URL of the queue called ``name``; ``DependencyUnavailableError`` when this function has none for it."""
    url = get_settings().queue_urls.get(name)
    if not url:
        raise DependencyUnavailableError(f"queue {name}", "this function has no URL for it")
    return url


def _sqs(name: str, operation: str, **request: Any) -> Any:
    """One SQS request on the queue called ``name``; an SDK failure is ``DependencyUnavailableError``."""
    try:
        return getattr(aws.sqs(), operation)(QueueUrl=queue_url(name), **request)
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError(f"queue {name}", type(exc).__name__) from exc


class JsonQueue:
    """A queue of the deployment that takes JSON messages; its URL is looked up when first sending."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, messages: Sequence[dict[str, Any]]) -> None:
        """Send every message, ten per request; raises ``DependencyUnavailableError`` unless all were accepted."""
        queue_url(self.name)
        for start in range(0, len(messages), _SQS_BATCH):
            chunk = messages[start : start + _SQS_BATCH]
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(m, separators=(",", ":"), default=str)}
                for n, m in enumerate(chunk)
            ]
            response = _sqs(self.name, "send_message_batch", Entries=entries)
            if response.get("Failed"):
                raise DependencyUnavailableError(f"queue {self.name}", f"{len(response['Failed'])} messages refused")


class QueueMessages:
    """Raw messages of the deployment's queues, by logical name: what the dead-letter collector receives and deletes,
    and what a retry sends back (a body and its attributes, as they were)."""

    def receive(self, name: str, *, at_most: int = 10, hide_seconds: int = 60) -> list[dict[str, Any]]:
        """Up to ``at_most`` (at most 10) visible messages, with every system and message attribute; they stay
        hidden ``hide_seconds`` unless deleted."""
        answer = _sqs(
            name,
            "receive_message",
            MaxNumberOfMessages=max(1, min(at_most, _SQS_BATCH)),
            VisibilityTimeout=hide_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return [dict(message) for message in answer.get("Messages", [])]

    def delete(self, name: str, receipt_handle: str) -> None:
        _sqs(name, "delete_message", ReceiptHandle=receipt_handle)

    def send(self, name: str, body: str, attributes: dict[str, str]) -> str:
        """Send ``body`` with string ``attributes``; the new message's id."""
        attributes_sent = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        answer = _sqs(name, "send_message", MessageBody=body, MessageAttributes=attributes_sent)
        return str(answer["MessageId"])
