"""Invoking the deployment's own functions asynchronously (a dead-letter task's retry): Lambda queues the event,
retries a failed run twice and then hands it to the function's on-failure destination."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from firstmile.config import get_settings
from firstmile.errors import DependencyUnavailableError
from firstmile.platform import aws
from firstmile.platform.resources import deployed_name


def invoke_later(function: str, event: dict[str, Any]) -> None:
    """Queue ``event`` for the catalogue's function ``function`` (``InvocationType=Event``)."""
    name = deployed_name(get_settings().stage, function)
    try:
        aws.lambda_().invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps(event, separators=(",", ":")).encode()
        )
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError(f"function {function}", type(exc).__name__) from exc
