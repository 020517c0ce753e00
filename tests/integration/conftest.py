"""Handlers against the local emulator (the table on DynamoDB Local, the rest on moto), with resources built from
the same definitions CDK uses."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from firstmile.config import reset_settings
from firstmile.onboarding.runtime import reset_onboarding_runtime
from firstmile.platform.aws import reset_clients
from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE
from firstmile.platform.table import MAIN_TABLE
from functions.catalog import MIGRATION_QUEUE
from local.emulator import Emulator

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
    queue_name: str
    queue_url: str
    # The onboarding migration queue (functions.catalog.MIGRATION_QUEUE) of this deployment.
    migration_queue_url: str = ""
    # The flag exposure queue (firstmile.platform.resources.FLAG_EXPOSURES_QUEUE) of this deployment.
    exposure_queue_url: str = ""
    # The table engine's own endpoint (DynamoDB and its streams); ``endpoint`` reaches it too, one hop later.
    table_endpoint: str = ""

    def client(self, service: str) -> Any:
        direct = service in ("dynamodb", "dynamodbstreams") and self.table_endpoint
        return boto3.client(
            service, endpoint_url=self.table_endpoint if direct else self.endpoint, region_name="us-east-1"
        )

    @property
    def table(self) -> Any:
        endpoint = self.table_endpoint or self.endpoint
        return boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1").Table(self.table_name)


@pytest.fixture
def deployment(emulator: str, table_engine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """A table, bucket and queue of their own for one test, wired into the functions' settings."""
    suffix = uuid.uuid4().hex[:10]
    dynamodb = boto3.client("dynamodb", endpoint_url=table_engine, region_name="us-east-1")
    s3 = boto3.client("s3", endpoint_url=emulator, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=emulator, region_name="us-east-1")
    table_name, bucket, queue = f"firstmile-{suffix}", f"exports-{suffix}", f"scheduler-dlq-{suffix}"
    dynamodb.create_table(**MAIN_TABLE.create_table_request(table_name))
    dynamodb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": MAIN_TABLE.ttl_attribute}
    )
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    migration_queue_url = sqs.create_queue(QueueName=f"onboarding-migrations-{suffix}")["QueueUrl"]
    exposure_queue_url = sqs.create_queue(QueueName=f"flag-exposures-{suffix}")["QueueUrl"]
    queue_urls = {
        "scheduler-dlq": queue_url,
        MIGRATION_QUEUE: migration_queue_url,
        FLAG_EXPOSURES_QUEUE: exposure_queue_url,
    }
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", table_engine)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", table_engine)
    monkeypatch.setenv("FIRSTMILE_TABLE_NAME", table_name)
    monkeypatch.setenv("FIRSTMILE_EXPORTS_BUCKET", bucket)
    monkeypatch.setenv("FIRSTMILE_QUEUE_URLS", json.dumps(queue_urls))
    monkeypatch.setenv("FIRSTMILE_DEPENDENCY_TIMEOUT_SECONDS", "5")
    reset_settings()
    reset_clients()
    reset_onboarding_runtime()
    yield Deployment(
        emulator, table_name, bucket, queue, queue_url, migration_queue_url, exposure_queue_url, table_engine
    )
    reset_onboarding_runtime()
    for cleanup in (
        lambda: dynamodb.delete_table(TableName=table_name),
        lambda: _empty_and_delete_bucket(s3, bucket),
        lambda: sqs.delete_queue(QueueUrl=queue_url),
        lambda: sqs.delete_queue(QueueUrl=migration_queue_url),
        lambda: sqs.delete_queue(QueueUrl=exposure_queue_url),
    ):
        # A test may already have removed a resource on purpose.
        with contextlib.suppress(Exception):
            cleanup()


@dataclass
class DynamoCalls:
    """The DynamoDB operations a client sent, counted at the botocore level (retries of one call count once)."""

    names: list[str] = field(default_factory=list)

    def record(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)


@pytest.fixture
def calls(table: Any) -> Iterator[DynamoCalls]:
    """Counts the requests sent through the ``table`` fixture of the test's module (a boto3 Table resource)."""
    counted = DynamoCalls()
    events = table.meta.client.meta.events
    events.register("before-call.dynamodb", counted.record, unique_id="count-dynamodb-calls")
    yield counted
    events.unregister("before-call.dynamodb", unique_id="count-dynamodb-calls")


def _empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
