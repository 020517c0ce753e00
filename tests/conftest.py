"""Defaults every test shares: no real AWS, no tracing, settings, clients and the container's parts rebuilt per
test (a test may set a part, ``container().flag_cache = ...``, before it is first built)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from firstmile import composition
from firstmile.config import reset_settings
from firstmile.platform.aws import reset_clients
from tests.factories import FakeLambdaContext

# Set before anything creates a boto3 client: tests never reach a real AWS account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Firstmile",
        "POWERTOOLS_DEV": "false",
    }
)
for _name in [n for n in os.environ if n.startswith(("FIRSTMILE_", "AWS_ENDPOINT_URL"))]:
    del os.environ[_name]


@pytest.fixture(autouse=True)
def _fresh_configuration() -> Iterator[None]:
    reset_settings()
    reset_clients()
    composition.reset()
    yield
    reset_settings()
    reset_clients()
    composition.reset()


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
