"""Sleeps as long as ``?sleep=SECONDS`` asks, then answers with the id of its process."""

import json
import os
import time
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", "0")))
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}
