"""AWS clients, created on first use with tight timeouts so a slow dependency fails fast.

Endpoints come from the standard ``AWS_ENDPOINT_URL`` variable, which the local stack points at its emulator.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


@lru_cache(maxsize=1)
def _config() -> Any:
    from botocore.config import Config

    return Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


@lru_cache(maxsize=1)
def _session() -> Any:
    import boto3

    return boto3.session.Session()


@cache
def dynamodb() -> DynamoDBClient:
    """The low-level DynamoDB client."""
    return _session().client("dynamodb", config=_config())  # type: ignore[no-any-return]


@cache
def table(name: str) -> Table:
    """The DynamoDB table resource called ``name``."""
    return _session().resource("dynamodb", config=_config()).Table(name)  # type: ignore[no-any-return]


@cache
def sqs() -> SQSClient:
    """The SQS client."""
    return _session().client("sqs", config=_config())  # type: ignore[no-any-return]


@cache
def s3() -> S3Client:
    """The S3 client."""
    return _session().client("s3", config=_config())  # type: ignore[no-any-return]


def reset_clients() -> None:
    """Drop cached clients (after the environment's endpoint or credentials changed)."""
    for cached in (_config, _session, dynamodb, table, sqs, s3):
        cached.cache_clear()
