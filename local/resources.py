"""What resources a Firstmile deployment has, named for one stage, and how they are created on the emulator.

The one place that maps the catalogue and the shared definitions (``firstmile.platform.table``,
``firstmile.platform.resources``) to concrete resources: the table, the buckets, every consumed queue with its
dead-letter queue, the scheduler's dead-letter queue, and, when a function uses signing keys, the Secrets Manager
secret that holds them. Stream batches that failed all their retries are kept in the stream-failures bucket.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from firstmile.platform.resources import (
    BUCKETS,
    SCHEDULER_DLQ,
    SIGNING_KEYS_SECRET,
    BucketDefinition,
    dead_letter_queue_name,
    deployed_name,
)
from firstmile.platform.table import MAIN_TABLE, TableDefinition
from functions.catalog import CATALOG, Function, Queue, TableStream
from local.config import STAGE, VISIBILITY_ENV
from local.emulator import client

# SQS's own default, for queues no function consumes.
DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
# AWS's guidance for a queue feeding Lambda: at least six times the consumer's timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
# Failed work is kept as long as SQS allows, so nobody loses it over a long weekend.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


class MissingResourceError(RuntimeError):
    """A resource of the deployment does not exist on the emulator."""


@dataclass(frozen=True)
class QueueResource:
    """One SQS queue: its logical name (as functions know it), its name on the emulator, its redrive."""

    logical_name: str
    name: str
    visibility_timeout_seconds: int = DEFAULT_VISIBILITY_TIMEOUT_SECONDS
    dead_letter_queue: str | None = None
    max_receive_count: int | None = None
    retention_seconds: int | None = None


@dataclass(frozen=True)
class BucketResource:
    definition: BucketDefinition
    name: str


@dataclass(frozen=True)
class Deployment:
    """Every resource of one stage of Firstmile, by name, and the identity settings that follow from the stage."""

    stage: str
    table_name: str
    buckets: tuple[BucketResource, ...]
    queues: tuple[QueueResource, ...]
    # The signing keys' secret; ``None`` when no function of the catalogue signs or rotates keys.
    signing_keys_secret: str | None = None
    table: TableDefinition = MAIN_TABLE
    # Whether the table's stream is turned on: only when a function consumes it. The table engine keeps every stream
    # record in memory for a day (as the service keeps them), about 3.5 KB per write, so a stream nobody reads made a
    # long session's memory grow with every write (docs/decisions/0029, bench/soak.py).
    table_stream: bool = True

    @property
    def issuer(self) -> str:
        """The ``iss`` of this deployment's access tokens."""
        return f"urn:firstmile:{self.stage}"

    @property
    def audience(self) -> str:
        """The ``aud`` of this deployment's access tokens: its API."""
        return f"urn:firstmile:{self.stage}:api"

    def queue(self, logical_name: str) -> QueueResource:
        """The queue known to functions as ``logical_name``."""
        for queue in self.queues:
            if queue.logical_name == logical_name:
                return queue
        raise KeyError(f"the deployment has no queue called {logical_name!r}")

    def bucket(self, definition: BucketDefinition) -> str:
        """The name of the bucket ``definition`` describes."""
        for bucket in self.buckets:
            if bucket.definition == definition:
                return bucket.name
        raise KeyError(f"the deployment has no bucket {definition.logical_name!r}")


def resource_name(stage: str, logical_name: str) -> str:
    """The name of a resource on the emulator, e.g. ``firstmile-local-exports``."""
    return deployed_name(stage, logical_name).lower()


def deployment_for(catalog: Iterable[Function] = CATALOG, stage: str = STAGE) -> Deployment:
    """The resources a deployment of ``catalog`` has."""
    catalog = tuple(catalog)
    queues: list[QueueResource] = []
    for function in catalog:
        if isinstance(function.trigger, Queue):
            queues += _consumed_queue(stage, function, function.trigger)
    queues.append(_dead_letter(stage, SCHEDULER_DLQ))
    names = [q.logical_name for q in queues]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"more than one function consumes or declares the queues {duplicates}")
    return Deployment(
        stage=stage,
        table_name=resource_name(stage, MAIN_TABLE.logical_name),
        buckets=tuple(BucketResource(b, resource_name(stage, b.logical_name)) for b in BUCKETS),
        queues=tuple(queues),
        signing_keys_secret=(
            resource_name(stage, SIGNING_KEYS_SECRET) if any(f.access.signing_keys != "none" for f in catalog) else None
        ),
        table_stream=any(isinstance(f.trigger, TableStream) for f in catalog),
    )


def _consumed_queue(stage: str, function: Function, trigger: Queue) -> list[QueueResource]:
    dlq = dead_letter_queue_name(trigger.name)
    return [
        _dead_letter(stage, dlq),
        QueueResource(
            logical_name=trigger.name,
            name=resource_name(stage, trigger.name),
            visibility_timeout_seconds=VISIBILITY_TIMEOUT_FACTOR * function.timeout_seconds,
            dead_letter_queue=dlq,
            max_receive_count=trigger.max_receive_count,
        ),
    ]


def _dead_letter(stage: str, logical_name: str) -> QueueResource:
    return QueueResource(
        logical_name=logical_name,
        name=resource_name(stage, logical_name),
        retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
    )


def create_resources(deployment: Deployment, endpoint: str) -> dict[str, str]:
    """Create every resource of ``deployment`` on the emulator (existing ones are kept); its queue URLs by name."""
    _create_table(client("dynamodb", endpoint), deployment)
    s3 = client("s3", endpoint)
    for bucket in deployment.buckets:
        _create_bucket(s3, bucket)
    if deployment.signing_keys_secret is not None:
        _create_secret(client("secretsmanager", endpoint), deployment.signing_keys_secret)
    return create_queues(deployment, endpoint)


def queue_urls(deployment: Deployment, endpoint: str) -> dict[str, str]:
    """The URLs of the deployment's existing queues, by logical name."""
    sqs = client("sqs", endpoint)
    urls: dict[str, str] = {}
    for queue in deployment.queues:
        try:
            urls[queue.logical_name] = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        except ClientError as exc:
            raise MissingResourceError(f"queue {queue.name} does not exist on {endpoint}") from exc
    return urls


def _create_table(dynamodb: Any, deployment: Deployment) -> None:
    name = deployment.table_name
    request = deployment.table.create_table_request(name)
    if not deployment.table_stream:
        request.pop("StreamSpecification", None)
    try:
        dynamodb.create_table(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": deployment.table.ttl_attribute},
        )


def _create_bucket(s3: Any, bucket: BucketResource) -> None:
    try:
        # us-east-1 takes no location constraint.
        s3.create_bucket(Bucket=bucket.name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    if bucket.definition.kms:
        # As deployed: objects are encrypted under a KMS key by the bucket's default, without asking.
        s3.put_bucket_encryption(
            Bucket=bucket.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]
            },
        )
    if bucket.definition.expire_after_days is not None:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket.name,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "Expiration": {"Days": bucket.definition.expire_after_days},
                    }
                ]
            },
        )


def _create_secret(secretsmanager: Any, name: str) -> None:
    """The signing keys' secret, holding what CDK's generated secret holds at first: a random value, no key set.

    The first run of ``signing_key_rotation`` replaces it with a key set (``SecretsManagerKeyStore`` reads anything
    else as an empty set).
    """
    try:
        secretsmanager.create_secret(
            Name=name,
            Description="Firstmile's private signing keys (ES256), written by signing_key_rotation",
            SecretString=secrets.token_urlsafe(32),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise


def create_queues(deployment: Deployment, endpoint: str, sqs: Any = None) -> dict[str, str]:
    """Create every queue of ``deployment`` on the emulator, dead-letter queues and redrive included (existing ones
    are kept); their URLs by logical name. ``sqs`` is a client of the emulator to use (a new one by default)."""
    sqs = sqs or client("sqs", endpoint)
    urls: dict[str, str] = {}
    # Dead-letter queues first: a redrive policy names its target by ARN.
    shortened = os.environ.get(VISIBILITY_ENV)
    for queue in sorted(deployment.queues, key=lambda q: q.dead_letter_queue is not None):
        visibility = queue.visibility_timeout_seconds
        if shortened and queue.dead_letter_queue is not None:
            visibility = int(shortened)
        attributes = {"VisibilityTimeout": str(visibility)}
        if queue.retention_seconds is not None:
            attributes["MessageRetentionPeriod"] = str(queue.retention_seconds)
        if queue.dead_letter_queue is not None:
            target = sqs.get_queue_attributes(QueueUrl=urls[queue.dead_letter_queue], AttributeNames=["QueueArn"])
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": target["Attributes"]["QueueArn"], "maxReceiveCount": queue.max_receive_count}
            )
        urls[queue.logical_name] = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
    return urls


def queue_arn(deployment: Deployment, logical_name: str, region: str, account_id: str) -> str:
    """The ARN of a queue of the deployment."""
    return f"arn:aws:sqs:{region}:{account_id}:{deployment.queue(logical_name).name}"
