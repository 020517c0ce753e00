"""Reports what its instance started with: the environment, the parent process, and any state it inherited.

Read at import, as a handler module may: whether the layer's libraries were already imported (a fork server's child
finds them loaded) and the function name the environment gave at that moment.
"""

import json
import os
import random
import sys
import threading
from typing import Any

LAYER = ("boto3", "botocore.client", "pydantic", "aws_lambda_powertools", "firstmile.config")
LAYER_LOADED_BEFORE_IMPORT = all(name in sys.modules for name in LAYER)
NAME_AT_IMPORT = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")


def _open_sockets() -> int | None:
    try:
        return sum(os.readlink(f"/proc/self/fd/{fd}").startswith("socket:") for fd in os.listdir("/proc/self/fd"))
    except OSError:
        return None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    from firstmile import config
    from firstmile.platform import aws

    made = [aws._config, aws._session]
    made_once = [aws.dynamodb, aws.table, aws.sqs, aws.s3, aws.secretsmanager]
    body = {
        "environ": dict(os.environ),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "layer_loaded_before_import": LAYER_LOADED_BEFORE_IMPORT,
        "name_at_import": NAME_AT_IMPORT,
        "aws_cached": sum(c.cache_info().currsize for c in made)
        + sum(c._cache.cache_info().currsize for c in made_once),
        "boto3_default_session": boto3.DEFAULT_SESSION is not None,
        "settings_cached": config.get_settings.cache_info().currsize,
        "open_sockets": _open_sockets(),
        "threads": threading.active_count(),
        "random": random.random(),
        "route_role": config.get_settings().route_role,
    }
    return {"statusCode": 200, "body": json.dumps(body)}
