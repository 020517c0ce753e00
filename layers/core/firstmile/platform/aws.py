"""AWS clients, created on first use with tight timeouts so a slow dependency fails fast.

Endpoints come from the standard ``AWS_ENDPOINT_URL`` variable, which the local stack points at its emulator.

A boto3 session may not be used from two threads at once, while the clients it makes may. The readiness check runs
its probes on threads and can be the first use of every client in a cold container, so clients are made under one
lock: each is made once, and never two at a time.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient


_P = ParamSpec("_P")
_T = TypeVar("_T")
_making = threading.RLock()


class _MadeOnce(Generic[_P, _T]):
    """A maker cached per argument, every miss made under the one lock (and checked again inside it)."""

    def __init__(self, make: Callable[_P, _T]) -> None:
        self._cache = cache(make)
        self.__doc__ = make.__doc__

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        with _making:
            return cast("Callable[_P, _T]", self._cache)(*args, **kwargs)

    def cache_clear(self) -> None:
        self._cache.cache_clear()


def before_first_client(prepare: Callable[[], None]) -> None:
    """Run ``prepare`` before any AWS client exists: when the first botocore session is created, or at once when
    some code has loaded botocore's client already (a session may exist then). Only botocore's package is imported
    here, not its client."""
    import botocore

    if "botocore.client" in sys.modules:
        prepare()
    else:
        botocore.register_initializer(lambda _session: prepare())


@lru_cache(maxsize=1)
def _config() -> Any:
    from botocore.config import Config

    # Timeouts: 2 s to connect, 5 s to read (a function's own timeout is 10 s or more, so one slow call leaves room
    # for an answer). botocore's retry handler tries once: ``resilience.RETRY_POLICY`` retries (decision 0092).
    return Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 1})


@lru_cache(maxsize=1)
def _session() -> Any:
    # botocore's own session: every client here is a low-level one, and boto3's package would add its transfer
    # manager to every cold start for nothing (the table's resource, for tests and tools, wraps this session).
    import botocore.session

    session = botocore.session.get_session()
    # The service models and endpoint rules read from botocore's data files are kept across ``reset_clients``: they
    # never change, and reading them again is most of what making a client costs.
    if _data_loader:
        session.register_component("data_loader", _data_loader[0])
    else:
        _data_loader.append(session.get_component("data_loader"))
    return session


_data_loader: list[Any] = []


def _client(service: str) -> Any:
    from firstmile.platform.resilience import install

    return install(_session().create_client(service, config=_config()), service)


@_MadeOnce
def dynamodb() -> DynamoDBClient:
    """The low-level DynamoDB client; a write DynamoDB would refuse is refused before it is sent."""
    from firstmile.platform.item_rules import guard_writes

    return guard_writes(_client("dynamodb"))  # type: ignore[no-any-return]


@_MadeOnce
def table(name: str) -> Table:
    """The DynamoDB table resource called ``name``; a write DynamoDB would refuse is refused before it is sent."""
    import boto3

    from firstmile.platform.item_rules import guard_writes
    from firstmile.platform.resilience import install

    resource = boto3.session.Session(botocore_session=_session()).resource("dynamodb", config=_config())
    install(resource.meta.client, "dynamodb")
    guard_writes(resource.meta.client)
    return resource.Table(name)


@_MadeOnce
def dynamodb_control() -> Any:
    """The DynamoDB client for backups and restores: on the general endpoint (``AWS_ENDPOINT_URL``, the local
    emulator, which emulates them: the local table engine has no backups), with a minute to read (a local backup
    copies the table before it answers)."""
    import os

    from botocore.config import Config

    from firstmile.platform.resilience import install

    config = _config().merge(Config(read_timeout=60))
    client = _session().create_client("dynamodb", config=config, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    return install(client, "dynamodb")


@_MadeOnce
def sqs() -> SQSClient:
    """The SQS client."""
    return _client("sqs")  # type: ignore[no-any-return]


@_MadeOnce
def s3() -> S3Client:
    """The S3 client."""
    return _client("s3")  # type: ignore[no-any-return]


@_MadeOnce
def ses() -> Any:
    """The SES (v2) client: erasure codes by email."""
    return _client("sesv2")


@_MadeOnce
def lambda_() -> Any:
    """The Lambda client: a dead-letter task's retry invokes its function again."""
    return _client("lambda")


@_MadeOnce
def secretsmanager() -> SecretsManagerClient:
    """The Secrets Manager client."""
    return _client("secretsmanager")  # type: ignore[no-any-return]


def reset_clients() -> None:
    """Drop cached clients (after the environment's endpoint or credentials changed), and their circuit breakers."""
    with _making:
        for cached in (_config, _session, dynamodb, table, sqs, s3, ses, lambda_, secretsmanager):
            cached.cache_clear()
    if "firstmile.platform.resilience" in sys.modules:
        sys.modules["firstmile.platform.resilience"].reset_breakers()
