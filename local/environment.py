"""The environment each function runs with locally: the variables CDK sets in AWS, pointed at the emulator.

Both come from one builder (``functions.catalog.environment``); what differs here on purpose is stated once, in
``LocalEnvironment.local_variables``. Functions get a clean environment, as in Lambda: nothing leaks in from the
developer's shell (least of all real AWS credentials or profiles), only what a deployed function would see plus the
emulator's endpoint.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import firstmile
from firstmile.platform.resilience import FAULTS_FILE_ENV
from functions.catalog import Function
from functions.catalog.environment import DeploymentValues, function_environment
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
    # Where erasure codes go instead of SES (firstmile.privacy.notifier.OutboxNotifier): no email leaves the machine.
    outbox_path: str = str(REPO_ROOT / ".local" / "outbox.jsonl")

    def for_function(self, function: Function) -> dict[str, str]:
        """The environment variables of ``function``: the builder's, as CDK sets them, and :meth:`local_variables`."""
        return {**self.local_variables(function), **function_environment(function, self.deployment_values())}

    def deployment_values(self) -> DeploymentValues:
        """This deployment as the environment builder sees it."""
        return DeploymentValues(
            stage=self.deployment.stage,
            version=firstmile.__version__,
            commit=current_commit(),
            table_name=self.deployment.table_name,
            bucket_names={bucket.definition.settings_field: bucket.name for bucket in self.deployment.buckets},
            queue_url=self.queue_urls.__getitem__,
            issuer=self.deployment.issuer,
            audience=self.deployment.audience,
            cors_allow_origins=self.cors_allow_origins,
            cursor_key=self.cursor_key,
            signing_keys_secret=self.deployment.signing_keys_secret,
        )

    def local_variables(self, function: Function) -> dict[str, str]:
        """Every difference from a deployed function, on purpose: what the Lambda service sets by itself, the
        emulator's endpoints with credentials that are worthless anywhere else, the layer's path, and tracing off
        (no X-Ray daemon runs here). Nothing comes from the developer's shell but what a process needs to start."""
        env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
        env |= {
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
        # Erasure codes: no email leaves the machine; `make dev` prints each, `firstmile outbox` lists them.
        env["FIRSTMILE_NOTIFIER_OUTBOX"] = self.outbox_path
        # Webhooks to this machine are allowed here, so the demo can receive its own (decision 0093).
        env["FIRSTMILE_WEBHOOKS_ALLOW_LOOPBACK"] = "true"
        if self.dynamodb_endpoint is not None:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint
            env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = self.dynamodb_endpoint
        # Tests of the stack under faults (decision 0092): the file says how many calls fail, and is read again when
        # it changes. Faults are only ever injected against this loopback emulator.
        if FAULTS_FILE_ENV in os.environ:
            env[FAULTS_FILE_ENV] = os.environ[FAULTS_FILE_ENV]
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
