"""Sending a plain-text email through Amazon SES (v2), from an identity of the deployment's account."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from firstmile.errors import DependencyUnavailableError
from firstmile.platform import aws


def send_text(sender: str, to: str, subject: str, text: str) -> None:
    """Send one message; ``DependencyUnavailableError`` when SES refuses it or does not answer."""
    try:
        aws.ses().send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}},
        )
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError("email", type(exc).__name__) from exc
