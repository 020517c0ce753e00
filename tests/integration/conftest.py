"""Handlers against the local emulator (the table on DynamoDB Local, the rest on moto), with resources built from
the same definitions CDK uses."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from firstmile.audit.store import AuditStore
from firstmile.composition import reset
from firstmile.config import reset_settings
from firstmile.platform.aws import reset_clients
from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE, ONBOARDING_MIGRATIONS_QUEUE, SCHEDULER_DLQ
from firstmile.platform.table import MAIN_TABLE
from functions.catalog import CATALOG
from local.emulator import Emulator, client
from local.resources import create_queues, deployment_for

# Coverage is measured in the test process only: a forked child (a function instance, a concurrent request) leaves
# with os._exit and never saves coverage data, so tracing it would only slow it down (twice as slow under load).
os.register_at_fork(after_in_child=lambda: sys.settrace(None))


@pytest.fixture(scope="session")
def emulated_aws() -> Iterator[Emulator]:
    """The local stack's AWS emulator on a free 127.0.0.1 port for the whole test session (one per test process)."""
    server = Emulator(port=0).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def emulator(emulated_aws: Emulator) -> str:
    """The emulator's one endpoint URL (DynamoDB requests on it reach the table engine)."""
    return emulated_aws.endpoint


@pytest.fixture(scope="session")
def table_engine(emulated_aws: Emulator) -> str:
    """The table engine's own endpoint, which functions use as they do in the local stack."""
    return emulated_aws.dynamodb_endpoint


@dataclass
class Deployment:
    """The resources of one test's private deployment inside the emulator."""

    endpoint: str
    table_name: str
    bucket: str
    # Every queue the catalogue gives a deployment (work queues, their dead-letter queues, the scheduler's), by
    # logical name: URL and name on the emulator.
    queue_urls: dict[str, str]
    queue_names: dict[str, str]
    # The table engine's own endpoint (DynamoDB and its streams); ``endpoint`` reaches it too, one hop later.
    table_endpoint: str = ""

    @property
    def queue_url(self) -> str:
        """The scheduler's dead-letter queue."""
        return self.queue_urls[SCHEDULER_DLQ]

    @property
    def migration_queue_url(self) -> str:
        return self.queue_urls[ONBOARDING_MIGRATIONS_QUEUE]

    @property
    def exposure_queue_url(self) -> str:
        return self.queue_urls[FLAG_EXPOSURES_QUEUE]

    def client(self, service: str) -> Any:
        direct = service in ("dynamodb", "dynamodbstreams") and self.table_endpoint
        return boto3.client(
            service, endpoint_url=self.table_endpoint if direct else self.endpoint, region_name="us-east-1"
        )

    @property
    def table(self) -> Any:
        endpoint = self.table_endpoint or self.endpoint
        return boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1").Table(self.table_name)


@functools.cache
def _clients(table_engine: str, emulator: str) -> tuple[Any, Any, Any]:
    """The DynamoDB, S3 and SQS clients that make and remove the tests' deployments (made once per process)."""
    return client("dynamodb", table_engine), client("s3", emulator), client("sqs", emulator)


@dataclass(frozen=True)
class _Resources:
    """One deployment's table, bucket and queues on the emulator."""

    table_name: str
    bucket: str
    queue_urls: dict[str, str]
    queue_names: dict[str, str]


def _create(table_engine: str, emulator: str) -> _Resources:
    suffix = uuid.uuid4().hex[:10]
    # Only the process's own clients: making a client reads the whole environment, which the test's thread changes.
    dynamodb, s3, sqs = _clients(table_engine, emulator)
    table_name, bucket = f"firstmile-{suffix}", f"exports-{suffix}"
    dynamodb.create_table(**MAIN_TABLE.create_table_request(table_name))
    dynamodb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": MAIN_TABLE.ttl_attribute}
    )
    s3.create_bucket(Bucket=bucket)
    # The queues a deployment of the catalogue has, under a stage of this test's own.
    catalogued = deployment_for(CATALOG, stage=f"t{suffix}")
    queue_urls = create_queues(catalogued, emulator, sqs)
    return _Resources(table_name, bucket, queue_urls, {q.logical_name: q.name for q in catalogued.queues})


def _remove(resources: _Resources, table_engine: str, emulator: str) -> None:
    dynamodb, s3, sqs = _clients(table_engine, emulator)
    cleanups = [
        functools.partial(dynamodb.delete_table, TableName=resources.table_name),
        functools.partial(_empty_and_delete_bucket, s3, resources.bucket),
    ]
    cleanups += [functools.partial(sqs.delete_queue, QueueUrl=url) for url in resources.queue_urls.values()]
    for cleanup in cleanups:
        # A test may already have removed a resource on purpose.
        with contextlib.suppress(Exception):
            cleanup()


class _Deployments:
    """Each test's resources, made one test ahead and removed after it on a thread of their own, so a test waits
    for neither (a test process runs its tests one at a time; the requests go to the emulator and the engine)."""

    def __init__(self, table_engine: str, emulator: str) -> None:
        self._endpoints = (table_engine, emulator)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-deployments")
        self._ahead: Future[_Resources] | None = None

    def take(self) -> _Resources:
        ahead, self._ahead = self._ahead, self._thread.submit(_create, *self._endpoints)
        return ahead.result() if ahead is not None else _create(*self._endpoints)

    def give_back(self, resources: _Resources) -> None:
        self._thread.submit(_remove, resources, *self._endpoints)

    def close(self) -> None:
        if self._ahead is not None:
            with contextlib.suppress(Exception):
                self.give_back(self._ahead.result())
        self._thread.shutdown(wait=True)


@pytest.fixture(scope="session")
def _deployments(emulator: str, table_engine: str) -> Iterator[_Deployments]:
    deployments = _Deployments(table_engine, emulator)
    yield deployments
    deployments.close()


@pytest.fixture
def deployment(
    emulator: str, table_engine: str, _deployments: _Deployments, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """A table, bucket and the catalogue's queues of their own for one test, wired into the functions' settings."""
    resources = _deployments.take()
    queue_urls = resources.queue_urls
    # The functions are told of the queues the catalogue lets some function use, as CDK tells each function of
    # those it names.
    named = {name for f in CATALOG for name in (*f.access.sends_to, *f.access.inspects_queues)}
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", table_engine)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", table_engine)
    monkeypatch.setenv("FIRSTMILE_TABLE_NAME", resources.table_name)
    monkeypatch.setenv("FIRSTMILE_EXPORTS_BUCKET", resources.bucket)
    monkeypatch.setenv("FIRSTMILE_QUEUE_URLS", json.dumps({name: queue_urls[name] for name in sorted(named)}))
    monkeypatch.setenv("FIRSTMILE_DEPENDENCY_TIMEOUT_SECONDS", "5")
    reset_settings()
    reset_clients()
    reset()
    yield Deployment(emulator, resources.table_name, resources.bucket, queue_urls, resources.queue_names, table_engine)
    reset()
    _deployments.give_back(resources)


@pytest.fixture
def table(deployment: Deployment) -> Any:
    """The test's table as a boto3 Table resource: what a store under test is built over."""
    return deployment.table


@pytest.fixture
def audit_log(table: Any) -> AuditStore:
    """The audit log on the test's table, which a store contract's audited changes append to."""
    return AuditStore(table)


@dataclass
class DynamoCalls:
    """The DynamoDB operations a client sent, counted at the botocore level (retries of one call count once)."""

    names: list[str] = field(default_factory=list)

    def record(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)


@pytest.fixture
def calls(table: Any) -> Iterator[DynamoCalls]:
    """Counts the requests sent through the ``table`` fixture (a boto3 Table resource, which a module may replace)."""
    counted = DynamoCalls()
    events = table.meta.client.meta.events
    events.register("before-call.dynamodb", counted.record, unique_id="count-dynamodb-calls")
    yield counted
    events.unregister("before-call.dynamodb", unique_id="count-dynamodb-calls")


def _empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
