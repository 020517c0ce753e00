"""The contract between the shared stacks and the domain stacks: named exports, imported by name.

Stacks never refer to each other's constructs directly. The data and API stacks export what others may use
under stage-scoped names (``firstmile-<stage>-<key>``), and every other stack imports those names through
:func:`import_platform`. This keeps the stacks free of cycles, makes the interface between them explicit,
and gives every cross-stack value a stable, readable spelling in the templates and in cdk-nag findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from firstmile.platform.resources import (
    ARCHIVE_BUCKET,
    BUCKETS,
    CURSOR_KEY_SECRET,
    EXPORTS_BUCKET,
    SCHEDULER_DLQ,
    SIGNING_KEYS_SECRET,
    STREAM_FAILURES_BUCKET,
    BucketDefinition,
    dead_letter_queue_name,
    deployed_name,
)
from firstmile.platform.table import MAIN_TABLE
from functions.catalog import Authorizer, Function, LogSubscription, Queue
from infra.settings import DeploymentSettings


def authorizer_function(catalog: tuple[Function, ...]) -> Function | None:
    """The catalogue entry whose trigger is ``Authorizer`` (the API stack builds it), if there is one."""
    found = [f for f in catalog if isinstance(f.trigger, Authorizer)]
    if len(found) > 1:
        raise ValueError(f"the catalogue has {len(found)} Authorizer functions ({[f.name for f in found]}); one only")
    return found[0] if found else None


def signing_keys_secret_name(settings: DeploymentSettings) -> str:
    """The Secrets Manager secret holding the stage's signing keys (``FIRSTMILE_SIGNING_KEYS_SECRET``)."""
    return deployed_name(settings.stage, SIGNING_KEYS_SECRET)


def cursor_key_secret_name(settings: DeploymentSettings) -> str:
    """The Secrets Manager secret whose value signs pagination cursors (``FIRSTMILE_CURSOR_KEY``)."""
    return deployed_name(settings.stage, CURSOR_KEY_SECRET)


def export_name(settings: DeploymentSettings, key: str) -> str:
    """The CloudFormation export name of shared value ``key`` in this stage."""
    return f"firstmile-{settings.stage}-{key}"


def publish(
    stack: Stack, settings: DeploymentSettings, key: str, value: str, description: str, *, export: bool = True
) -> None:
    """Output ``value`` from ``stack``, exported under its stage-scoped name unless ``export`` is false."""
    logical_id = "".join(part.capitalize() for part in key.split("-"))
    CfnOutput(
        stack,
        logical_id,
        value=value,
        description=description,
        export_name=export_name(settings, key) if export else None,
    )


def imported(settings: DeploymentSettings, key: str) -> str:
    """The value another stack exported as ``key``."""
    return Fn.import_value(export_name(settings, key))


def queue_names(catalog: tuple[Function, ...]) -> list[str]:
    """Every queue the deployment has, by logical name: the scheduler DLQ, work queues and their DLQs."""
    names = [SCHEDULER_DLQ]
    for function in catalog:
        if isinstance(function.trigger, Queue):
            names += [function.trigger.name, dead_letter_queue_name(function.trigger.name)]
    return names


@dataclass(frozen=True)
class SigningKeys:
    """The secret holding the private signing keys and the KMS key that encrypts it, as one stack sees them."""

    secret_name: str
    secret_arn: str
    key_arn: str


@dataclass(frozen=True)
class Platform:
    """Shared resources as one stack sees them, by the names the catalogue and ``firstmile`` use."""

    settings: DeploymentSettings
    table: dynamodb.ITable
    table_name: str
    # Settings field (e.g. ``exports_bucket``) -> bucket; a bucket with its own KMS key (``BucketDefinition.kms``)
    # carries it as its ``encryption_key``.
    buckets: dict[str, s3.IBucket]
    # Logical queue name -> queue.
    queues: dict[str, sqs.IQueue]
    alarm_topic: sns.ITopic
    signing_keys: SigningKeys
    http_api: apigwv2.IHttpApi | None = None
    # The id of the Lambda authorizer every non-public route uses, when the catalogue has one.
    authorizer_id: str | None = None
    # The function every route function's log group is subscribed to (its request records), when the catalogue has
    # one: its deployed name and the subscription's filter pattern.
    log_subscriber: tuple[str, str] | None = None

    @property
    def exports_bucket(self) -> s3.IBucket:
        """The bucket holding data exports."""
        return self.buckets[EXPORTS_BUCKET.settings_field]

    @property
    def archive_bucket(self) -> s3.IBucket:
        """The analytics archive of transition events (decision 0073)."""
        return self.buckets[ARCHIVE_BUCKET.settings_field]

    @property
    def stream_failures_bucket(self) -> s3.IBucket:
        """Where the table-stream consumers' failed batches are kept whole (their on-failure destination)."""
        return self.buckets[STREAM_FAILURES_BUCKET.settings_field]

    @property
    def scheduler_dead_letter(self) -> sqs.IQueue:
        """Where scheduled invocations that failed for good end up."""
        return self.queues[SCHEDULER_DLQ]

    def queue(self, name: str) -> sqs.IQueue:
        """The queue the catalogue calls ``name``; a name nothing defines is a catalogue mistake."""
        try:
            return self.queues[name]
        except KeyError:
            raise KeyError(f"the catalogue names queue {name!r}, which no function consumes") from None


def import_platform(
    scope: Construct,
    settings: DeploymentSettings,
    catalog: tuple[Function, ...],
    *,
    with_api: bool,
    with_authorizer: bool,
) -> Platform:
    """References, inside ``scope``, to everything the data (and API) stacks export."""
    shared = Construct(scope, "Shared")
    table = dynamodb.Table.from_table_attributes(
        shared,
        "Table",
        table_arn=imported(settings, "table-arn"),
        table_stream_arn=imported(settings, "table-stream-arn"),
        global_indexes=[index.name for index in MAIN_TABLE.indexes],
    )
    buckets = {bucket.settings_field: _imported_bucket(shared, settings, bucket) for bucket in BUCKETS}
    queues = {
        name: sqs.Queue.from_queue_attributes(
            shared,
            f"Queue-{name}",
            queue_arn=imported(settings, f"queue-{name}-arn"),
            queue_url=imported(settings, f"queue-{name}-url"),
        )
        for name in queue_names(catalog)
    }
    http_api = (
        apigwv2.HttpApi.from_http_api_attributes(shared, "HttpApi", http_api_id=imported(settings, "http-api-id"))
        if with_api
        else None
    )
    return Platform(
        settings=settings,
        table=table,
        table_name=imported(settings, "table-name"),
        buckets=buckets,
        queues=queues,
        alarm_topic=sns.Topic.from_topic_arn(shared, "AlarmTopic", imported(settings, "alarm-topic-arn")),
        signing_keys=SigningKeys(
            secret_name=imported(settings, "signing-keys-secret-name"),
            secret_arn=imported(settings, "signing-keys-secret-arn"),
            key_arn=imported(settings, "signing-keys-kms-key-arn"),
        ),
        http_api=http_api,
        authorizer_id=imported(settings, "http-authorizer-id") if with_authorizer else None,
        log_subscriber=log_subscriber(settings, catalog),
    )


def log_subscriber(settings: DeploymentSettings, catalog: tuple[Function, ...]) -> tuple[str, str] | None:
    """The deployed name and filter pattern of the catalogue's ``LogSubscription`` function, if it has one."""
    for function in catalog:
        if isinstance(function.trigger, LogSubscription):
            return f"firstmile-{settings.stage}-{function.name}", function.trigger.filter_pattern
    return None


def _imported_bucket(scope: Construct, settings: DeploymentSettings, bucket: BucketDefinition) -> s3.IBucket:
    """A bucket the data stack exports, with its own KMS key when it has one: a grant on its objects then needs a
    grant on the key too."""
    key = _key(bucket.settings_field)
    return s3.Bucket.from_bucket_attributes(
        scope,
        bucket.logical_name,
        bucket_arn=imported(settings, f"{key}-arn"),
        bucket_name=imported(settings, f"{key}-name"),
        encryption_key=(
            kms.Key.from_key_arn(scope, f"{bucket.logical_name}Key", imported(settings, f"{key}-kms-key-arn"))
            if bucket.kms
            else None
        ),
    )


def publish_data(
    stack: Stack,
    settings: DeploymentSettings,
    *,
    table: dynamodb.ITable,
    buckets: dict[str, s3.IBucket],
    bucket_keys: dict[str, kms.IKey],
    queues: dict[str, sqs.IQueue],
    alarm_topic: sns.ITopic,
    signing_keys: SigningKeys,
) -> None:
    """Export everything :func:`import_platform` reads from the data stack."""
    publish(stack, settings, "table-name", table.table_name, "The one DynamoDB table")
    publish(stack, settings, "table-arn", table.table_arn, "The one DynamoDB table")
    publish(stack, settings, "table-stream-arn", str(table.table_stream_arn), "The table's change stream")
    for field, bucket in buckets.items():
        publish(stack, settings, f"{_key(field)}-arn", bucket.bucket_arn, f"Bucket {field}")
        publish(stack, settings, f"{_key(field)}-name", bucket.bucket_name, f"Bucket {field}")
    for field, key in bucket_keys.items():
        publish(stack, settings, f"{_key(field)}-kms-key-arn", key.key_arn, f"KMS key of bucket {field}")
    for name, queue in queues.items():
        publish(stack, settings, f"queue-{name}-arn", queue.queue_arn, f"Queue {name}")
        publish(stack, settings, f"queue-{name}-url", queue.queue_url, f"Queue {name}")
    publish(stack, settings, "alarm-topic-arn", alarm_topic.topic_arn, "SNS topic every alarm notifies")
    publish(stack, settings, "signing-keys-secret-name", signing_keys.secret_name, "Secret holding the signing keys")
    publish(stack, settings, "signing-keys-secret-arn", signing_keys.secret_arn, "Secret holding the signing keys")
    publish(stack, settings, "signing-keys-kms-key-arn", signing_keys.key_arn, "KMS key of the signing-keys secret")


def _key(settings_field: str) -> str:
    return settings_field.replace("_", "-")
