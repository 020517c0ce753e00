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
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

from firstmile.audit.store import AuditStore
from firstmile.composition import reset
from firstmile.config import reset_settings
from firstmile.platform.aws import reset_clients
from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE, ONBOARDING_MIGRATIONS_QUEUE, SCHEDULER_DLQ
from firstmile.platform.table import MAIN_TABLE
from functions.catalog import CATALOG
from local.emulator import ACCOUNT_ID, REGION, Emulator, client
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
class _Messaging:
    """A deployment's bucket and the catalogue's queues on the emulator, which a later test may reuse."""

    bucket: str
    queue_urls: dict[str, str]
    queue_names: dict[str, str]


@dataclass(frozen=True)
class _Resources:
    """One test's table (always new), bucket and queues."""

    table_name: str
    messaging: _Messaging


def _create_table(table_engine: str, emulator: str) -> str:
    # Only the process's own clients: making a client reads the whole environment, which the test's thread changes.
    dynamodb, _, _ = _clients(table_engine, emulator)
    table_name = f"firstmile-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(**MAIN_TABLE.create_table_request(table_name))
    dynamodb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": MAIN_TABLE.ttl_attribute}
    )
    return table_name


def _create_messaging(table_engine: str, emulator: str) -> _Messaging:
    _, s3, sqs = _clients(table_engine, emulator)
    suffix = uuid.uuid4().hex[:10]
    bucket = f"exports-{suffix}"
    s3.create_bucket(Bucket=bucket)
    # The queues a deployment of the catalogue has, under a stage of their own.
    catalogued = deployment_for(CATALOG, stage=f"t{suffix}")
    queue_urls = create_queues(catalogued, emulator, sqs)
    return _Messaging(bucket, queue_urls, {q.logical_name: q.name for q in catalogued.queues})


def _left_as_new(messaging: _Messaging) -> bool:
    """Whether the bucket and every queue are still there and hold nothing (no message visible, in flight or
    delayed): then they are as good as new for the next test. The emulator serves from this process, so its own
    state is read, without a request; anything unexpected counts as used."""
    try:
        bucket = s3_backends[ACCOUNT_ID]["aws"].buckets[messaging.bucket]
        queues = sqs_backends[ACCOUNT_ID][REGION].queues
        held = (
            queues[name].approximate_number_of_messages
            + queues[name].approximate_number_of_messages_not_visible
            + queues[name].approximate_number_of_messages_delayed
            for name in messaging.queue_names.values()
        )
        return len(bucket.keys) == 0 and not any(held)
    except Exception:
        return False


def _remove_table(table_name: str, table_engine: str, emulator: str) -> None:
    dynamodb, _, _ = _clients(table_engine, emulator)
    with contextlib.suppress(Exception):
        dynamodb.delete_table(TableName=table_name)


def _remove_messaging(messaging: _Messaging, table_engine: str, emulator: str) -> None:
    _, s3, sqs = _clients(table_engine, emulator)
    cleanups = [functools.partial(_empty_and_delete_bucket, s3, messaging.bucket)]
    cleanups += [functools.partial(sqs.delete_queue, QueueUrl=url) for url in messaging.queue_urls.values()]
    for cleanup in cleanups:
        # A test may already have removed a resource on purpose.
        with contextlib.suppress(Exception):
            cleanup()


class _Deployments:
    """Each test's resources, made one test ahead and put away after it on a thread of their own, so a test waits
    for neither (a test process runs its tests one at a time; the requests go to the emulator and the engine).

    Every test gets a new table. A bucket and queues that a test left as new go to a later test instead of being
    removed: making and removing them cost about 40 ms of this process's CPU a test (moto serves in it)."""

    def __init__(self, table_engine: str, emulator: str) -> None:
        self._endpoints = (table_engine, emulator)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-deployments")
        self._ahead: Future[_Resources] | None = None
        self._unused: list[_Messaging] = []  # touched on the thread only

    def take(self) -> _Resources:
        ahead, self._ahead = self._ahead, self._thread.submit(self._make)
        return (ahead or self._thread.submit(self._make)).result()

    def give_back(self, resources: _Resources) -> None:
        self._thread.submit(self._put_away, resources)

    def close(self) -> None:
        if self._ahead is not None:
            with contextlib.suppress(Exception):
                self.give_back(self._ahead.result())
        self._thread.submit(self._remove_unused)
        self._thread.shutdown(wait=True)

    def _make(self) -> _Resources:
        messaging = self._unused.pop() if self._unused else _create_messaging(*self._endpoints)
        return _Resources(_create_table(*self._endpoints), messaging)

    def _put_away(self, resources: _Resources) -> None:
        _remove_table(resources.table_name, *self._endpoints)
        if _left_as_new(resources.messaging):
            self._unused.append(resources.messaging)
        else:
            _remove_messaging(resources.messaging, *self._endpoints)

    def _remove_unused(self) -> None:
        while self._unused:
            _remove_messaging(self._unused.pop(), *self._endpoints)


@pytest.fixture(scope="session")
def _deployments(emulator: str, table_engine: str) -> Iterator[_Deployments]:
    deployments = _Deployments(table_engine, emulator)
    yield deployments
    deployments.close()


@pytest.fixture
def deployment(
    emulator: str,
    table_engine: str,
    _deployments: _Deployments,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    """A table, bucket and the catalogue's queues of their own for one test, wired into the functions' settings."""
    resources = _deployments.take()
    messaging = resources.messaging
    queue_urls = messaging.queue_urls
    # The functions are told of the queues the catalogue lets some function use, as CDK tells each function of
    # those it names.
    named = {name for f in CATALOG for name in (*f.access.sends_to, *f.access.inspects_queues)}
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", table_engine)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", table_engine)
    monkeypatch.setenv("FIRSTMILE_TABLE_NAME", resources.table_name)
    monkeypatch.setenv("FIRSTMILE_EXPORTS_BUCKET", messaging.bucket)
    monkeypatch.setenv("FIRSTMILE_QUEUE_URLS", json.dumps({name: queue_urls[name] for name in sorted(named)}))
    monkeypatch.setenv("FIRSTMILE_DEPENDENCY_TIMEOUT_SECONDS", "5")
    # Erasure codes go to a file, as in the local stack (tests read them with privacy.notifier.read_outbox).
    monkeypatch.setenv("FIRSTMILE_NOTIFIER_OUTBOX", str(tmp_path_factory.mktemp("outbox") / "outbox.jsonl"))
    reset_settings()
    reset_clients()
    reset()
    yield Deployment(emulator, resources.table_name, messaging.bucket, queue_urls, messaging.queue_names, table_engine)
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
