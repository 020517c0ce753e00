"""Answers with the event it received and the id of its process, to check what the gateway sends."""

import json
import os
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = {
        "event": event,
        "pid": os.getpid(),
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "route_role": os.environ.get("FIRSTMILE_ROUTE_ROLE"),
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "cookies": ["session=abc; HttpOnly", "theme=dark"],
        "body": json.dumps(body),
    }
