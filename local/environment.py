"""The environment each function runs with locally: the variables CDK sets in AWS, pointed at the emulator.

Functions get a clean environment, as in Lambda: nothing leaks in from the developer's shell (least of all real
AWS credentials or profiles), only what a deployed function would see plus the emulator's endpoint.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import firstmile
from functions.catalog import Function, Route
from local.emulator import ACCOUNT_ID, FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION
from local.resources import Deployment

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = REPO_ROOT / "layers" / "core"
# Host variables a Python process needs to start; everything else is set explicitly.
_PASSED_THROUGH = ("PATH", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class LocalEnvironment:
    """What every function of one local deployment shares: its resources and where the emulator listens."""

    deployment: Deployment
    aws_endpoint: str
    queue_urls: dict[str, str]
    cors_allow_origins: tuple[str, ...]
    # The table engine's own endpoint; without it the table is reached through ``aws_endpoint`` (one hop more).
    dynamodb_endpoint: str | None = None
    # Signs pagination cursors: one per local stack, so a restarted stack refuses the cursors of the last one.
    cursor_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    def for_function(self, function: Function) -> dict[str, str]:
        """The environment variables of ``function``."""
        role = function.trigger.role if isinstance(function.trigger, Route) else "public"
        env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
        env |= {
            # The function's own settings (firstmile.config.Settings).
            "FIRSTMILE_STAGE": self.deployment.stage,
            "FIRSTMILE_VERSION": firstmile.__version__,
            "FIRSTMILE_COMMIT": current_commit(),
            "FIRSTMILE_TABLE_NAME": self.deployment.table_name,
            # Every local function may see every queue; in AWS the grants in the catalogue narrow this.
            "FIRSTMILE_QUEUE_URLS": json.dumps(self.queue_urls, sort_keys=True),
            "FIRSTMILE_CORS_ALLOW_ORIGINS": json.dumps(list(self.cors_allow_origins)),
            "FIRSTMILE_ROUTE_ROLE": role,
            # Identity (docs/decisions/0010-0013): who issues tokens, for which API, where the keys live.
            "FIRSTMILE_ISSUER": self.deployment.issuer,
            "FIRSTMILE_AUDIENCE": self.deployment.audience,
            # Powertools, as CDK configures it.
            "POWERTOOLS_SERVICE_NAME": "firstmile",
            "POWERTOOLS_METRICS_NAMESPACE": "Firstmile",
            "POWERTOOLS_TRACE_DISABLED": "true",
            # What the Lambda service itself sets.
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name(function),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "TZ": "UTC",
            "LANG": "C.UTF-8",
            # The emulator, with credentials it accepts and that are worthless anywhere else.
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            # Never the developer's own AWS profile files.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # The layer, as Lambda mounts it under /opt/python.
            "PYTHONPATH": os.pathsep.join([str(LAYER_DIR), str(REPO_ROOT)]),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Powertools warns on every cold start of a function that publishes no metric of its own; that is
            # expected here and would drown the console.
            "PYTHONWARNINGS": "ignore:No application metrics to publish:UserWarning",
        }
        if self.dynamodb_endpoint is not None:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint
            env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = self.dynamodb_endpoint
        for bucket in self.deployment.buckets:
            env[f"FIRSTMILE_{bucket.definition.settings_field.upper()}"] = bucket.name
        if self.deployment.signing_keys_secret is not None:
            env["FIRSTMILE_SIGNING_KEYS_SECRET"] = self.deployment.signing_keys_secret
        if isinstance(function.trigger, Route):
            env["FIRSTMILE_CURSOR_KEY"] = self.cursor_key
        if isinstance(function.trigger, Route) and function.trigger.rate_class is not None:
            env["FIRSTMILE_ROUTE_RATE_CLASS"] = function.trigger.rate_class
        return env


def function_arn(function: Function) -> str:
    """The ARN the function would have in the emulated account."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function.name}"


def log_group_name(function: Function) -> str:
    return f"/aws/lambda/{function.name}"


@lru_cache(maxsize=1)
def current_commit() -> str:
    """The checked-out commit, so ``/health`` tells which code the local stack runs."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"
