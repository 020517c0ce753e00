"""The one function factory: a catalogue entry becomes a Lambda function with its log group, role and grants.

Nothing here is specific to one function. The entry's ``Access`` is turned into exactly the grants it states,
and nothing else: a function that does not name a queue cannot see it, one that does not read the table has
no table permission at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from constructs import Construct

from firstmile.failures.collector import COLLECTED_PREFIX, FAILED_BATCHES_PREFIX
from firstmile.platform.resources import ARCHIVE_PREFIX
from functions.catalog import Function, LogSubscription, Schedule, TableStream
from functions.catalog.environment import DeploymentValues, function_environment
from infra.constructs.cursor_key import cursor_key_reference
from infra.nag import acknowledge, flattened
from infra.platform import Platform, cursor_key_secret_name

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "handler.lambda_handler"

CodeLocator = Callable[[Function], Path]


def function_folder(spec: Function) -> Path:
    """Where a catalogue function's code lives: its own ``functions/<name>/`` folder."""
    return spec.handler_path.parent


class CatalogFunction(Construct):
    """One catalogue entry as a Lambda function (ARM64, newest Python, traced, JSON logs, own log group)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: Function,
        platform: Platform,
        layer: lambda_.ILayerVersion,
        locate_code: CodeLocator = function_folder,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        settings = platform.settings
        # Named like the log group Lambda would create itself, so the console's links and every tool that
        # expects /aws/lambda/<name> find it; deleted with the stack so the stage can be deployed again.
        function_name = f"firstmile-{settings.stage}-{spec.name}"
        if len(function_name) > 64:
            raise ValueError(f"{function_name!r} is longer than Lambda's 64 characters; shorten the name")
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An own role without AWS managed policies: the managed basic-execution policy would allow writing to
        # every log group in the account, this one may write to its own log group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Firstmile {settings.stage} function {spec.name}",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=spec.description[:256],
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(locate_code(spec)), exclude=["__pycache__", "*.pyc"]),
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            reserved_concurrent_executions=spec.reserved_concurrency,
            role=self.role,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            # Platform START/END/REPORT lines cost log storage and say nothing the metrics do not.
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            environment=self._environment(platform),
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            # Versions exist only where something invokes one (the run-once trigger); a replaced version is
            # deleted rather than kept forever in the account's code storage.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
        )
        if isinstance(spec.trigger, Schedule):
            self._handle_async_failures(spec.trigger.retry_attempts, spec.trigger.max_event_age_seconds, platform)
        elif isinstance(spec.trigger, LogSubscription):
            # CloudWatch Logs invokes the subscriber asynchronously: Lambda retries a failed delivery, then the
            # invocation dead-letter queue keeps it as a dead-letter task (decision 0101).
            self._handle_async_failures(2, 6 * 3600, platform)
        elif isinstance(spec.trigger, TableStream):
            # A dead-letter task's retry invokes a stream consumer asynchronously with the kept batch (decision
            # 0091); when that fails, the invocation's record must reach the invocation dead-letter queue too.
            self._handle_async_failures(2, 6 * 3600, platform)
        self._grant(platform)
        wildcard_reason = "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) "
        if isinstance(spec.trigger, TableStream):
            wildcard_reason += "and dynamodb:ListStreams (the stream event source) "
        if spec.access.backups != "none":
            wildcard_reason += "and dynamodb:ListBackups "
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            wildcard_reason + "support no resource-level permissions; every other statement names its resource.",
        )

    def _handle_async_failures(self, retry_attempts: int, max_event_age_seconds: int, platform: Platform) -> None:
        """Retry policy and on-failure destination for asynchronous invocations: EventBridge Scheduler's, and a
        dead-letter task's retry.

        Scheduler hands the event to Lambda's own queue, so its retry policy and DLQ only cover delivery;
        failures of the function itself are retried and dead-lettered by Lambda, configured here.
        """
        self.function.configure_async_invoke(
            # Lambda allows at most 2 retries and 6 hours for asynchronous events.
            retry_attempts=min(retry_attempts, 2),
            max_event_age=Duration.seconds(min(max(max_event_age_seconds, 60), 6 * 3600)),
            on_failure=destinations.SqsDestination(platform.scheduler_dead_letter),
        )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Asynchronous failures go to an on-failure destination (the scheduler DLQ), whose record carries "
            "the event and the error; a DeadLetterConfig would keep the event only and duplicate the route.",
        )

    def _environment(self, platform: Platform) -> dict[str, str]:
        """The function's variables, from the one builder the local stack uses too, with this stack's references."""
        settings = platform.settings
        deployment = DeploymentValues(
            stage=settings.stage,
            version=settings.version,
            commit=settings.commit,
            table_name=platform.table_name,
            bucket_names={field: bucket.bucket_name for field, bucket in platform.buckets.items()},
            queue_url=lambda name: platform.queue(name).queue_url,
            issuer=settings.issuer,
            audience=settings.audience,
            cors_allow_origins=settings.cors_allow_origins,
            # Resolved by CloudFormation at deployment (docs/decisions/0041-signed-cursors.md).
            cursor_key=cursor_key_reference(cursor_key_secret_name(settings)),
            signing_keys_secret=platform.signing_keys.secret_name,
            notifier_sender=settings.privacy_sender,
            encode_json=Stack.of(self).to_json_string,
        )
        return function_environment(self.spec, deployment)

    def _grant(self, platform: Platform) -> None:
        """Exactly what the entry's ``Access`` states."""
        access = self.spec.access
        if access.table == "read":
            platform.table.grant_read_data(self.role)
        elif access.table == "write":
            platform.table.grant_read_write_data(self.role)
        if access.table != "none":
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{flattened(self, platform.table.table_arn)}/index/*]",
                "Access to the table includes its global secondary indexes, which the data model queries.",
            )
        if access.exports_bucket != "none":
            self._grant_exports(platform, write=access.exports_bucket == "write")
        if access.archive_bucket != "none":
            self._grant_archive(platform, erase=access.archive_bucket == "erase")
        for name in access.inspects_queues:
            platform.queue(name).grant(self.role, "sqs:GetQueueAttributes")
        for name in access.sends_to:
            platform.queue(name).grant_send_messages(self.role)
        if access.signing_keys != "none":
            self._grant_signing_keys(platform, write=access.signing_keys == "write")
        if access.sends_email:
            self._grant_email(platform)
        for name in access.receives_from:
            platform.queue(name).grant_consume_messages(self.role)
        if access.stream_failures != "none":
            self._grant_stream_failures(platform, collect=access.stream_failures == "collect")
        if access.invokes:
            self._grant_invokes(platform, access.invokes)
        if access.backups != "none":
            self._grant_backups(platform, access.backups)

    def _grant_backups(self, platform: Platform, level: str) -> None:
        """The table's backups (decision 0104): "read" lists them and the recovery window; "create" also makes and
        deletes them; "restore" restores one, or the table as of an instant, into a drill's scratch tables
        (``firstmile-<stage>-drill-*``), which it may read whole and delete, and nothing else."""
        table = platform.table.table_arn
        backups = f"{table}/backup/*"
        scratch = Stack.of(self).format_arn(
            service="dynamodb", resource="table", resource_name=f"firstmile-{platform.settings.stage}-drill-*"
        )
        statements = [
            iam.PolicyStatement(actions=["dynamodb:ListBackups"], resources=["*"]),
            iam.PolicyStatement(
                actions=["dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable"], resources=[table]
            ),
            iam.PolicyStatement(actions=["dynamodb:DescribeBackup"], resources=[backups]),
        ]
        if level == "create":
            statements += [
                iam.PolicyStatement(actions=["dynamodb:CreateBackup"], resources=[table]),
                iam.PolicyStatement(actions=["dynamodb:DeleteBackup"], resources=[backups]),
            ]
        if level == "restore":
            # A restore writes the items into its target table with the caller's rights.
            statements += [
                iam.PolicyStatement(actions=["dynamodb:RestoreTableFromBackup"], resources=[backups]),
                iam.PolicyStatement(actions=["dynamodb:RestoreTableToPointInTime"], resources=[table]),
                iam.PolicyStatement(
                    actions=[
                        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                        "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable",
                        "dynamodb:DeleteTable",
                    ],
                    resources=[scratch],
                ),
            ]  # fmt: skip
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{flattened(self, scratch)}]",
                "A restore drill's scratch tables are named per drill at run time; the role reaches only the stage's "
                "firstmile-<stage>-drill-* tables.",
            )
        for statement in statements:
            self.role.add_to_principal_policy(statement)
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{flattened(self, backups)}]",
            "Backups are named by DynamoDB when they are made; the role reaches only this table's backups.",
        )

    def _grant_stream_failures(self, platform: Platform, *, collect: bool) -> None:
        """``collect``: list, read and delete the failed batches Lambda writes under ``aws/lambda/``, and write them
        under ``collected/``; otherwise read what is under ``collected/`` (a retry). Decision 0091."""
        bucket = platform.stream_failures_bucket
        collected = bucket.arn_for_objects(f"{COLLECTED_PREFIX}*")
        if collect:
            written = bucket.arn_for_objects(f"{FAILED_BATCHES_PREFIX}*")
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": f"{FAILED_BATCHES_PREFIX}*"}},
                )
            )
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:GetObject", "s3:DeleteObject"], resources=[written])
            )
            self.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[collected]))
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{flattened(self, written)}]",
                "Failed batches are named by Lambda at run time; the role reads and deletes only those under "
                "aws/lambda/ of this one bucket.",
            )
        else:
            self.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[collected]))
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{flattened(self, collected)}]",
            "Collected batches are keyed by the names Lambda gave them; the role touches only collected/ of this "
            "one bucket.",
        )

    def _grant_invokes(self, platform: Platform, names: tuple[str, ...]) -> None:
        """InvokeFunction on exactly the catalogue's functions named (a dead-letter task's retry)."""
        stack = Stack.of(self)
        arns = [
            stack.format_arn(
                service="lambda",
                resource="function",
                resource_name=f"firstmile-{platform.settings.stage}-{name}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name in names
        ]
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=arns))

    def _grant_exports(self, platform: Platform, *, write: bool) -> None:
        """Read (GetObject), or also write and delete (a user's erasure deletes their export packages), any object
        of the exports bucket; and the bucket's KMS key, for S3 to decrypt what is read and encrypt what is put."""
        bucket = platform.exports_bucket
        # ListBucket on the bucket itself: readiness checks it with HeadBucket, a missing object then reads as 404
        # rather than 403, and the erasure lists a user's packages.
        actions = ["s3:GetObject"] + (["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"] if write else [])
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects("*")]))
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{flattened(self, bucket.bucket_arn)}/*]",
            "Export objects are keyed per request at run time; access is limited to this one bucket.",
        )
        if bucket.encryption_key is not None:
            # Only through S3: the key encrypts this bucket's objects and nothing this role does besides.
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"] + (["kms:GenerateDataKey"] if write else []),
                    resources=[bucket.encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
                )
            )

    def _grant_archive(self, platform: Platform, *, erase: bool) -> None:
        """Add objects under the archive's prefix (``write``), or list, read, rewrite and delete them (``erase``:
        a user's events are taken out of every object that holds them). Nothing outside the prefix either way."""
        archive = platform.archive_bucket
        objects = archive.arn_for_objects(f"{ARCHIVE_PREFIX}/*")
        if erase:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[archive.bucket_arn],
                    # Listing is allowed for keys under the prefix only (the erasure lists one tenant, day and
                    # bucket at a time).
                    conditions={"StringLike": {"s3:prefix": f"{ARCHIVE_PREFIX}/*"}},
                )
            )
        actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] if erase else ["s3:PutObject"]
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[objects]))
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{flattened(self, objects)}]",
            "Archive objects are named per tenant, day and batch at run time; the role may only "
            + ("read, rewrite and delete" if erase else "add")
            + " objects under the archive's events/ prefix of this one bucket.",
        )

    def _grant_email(self, platform: Platform) -> None:
        """SendEmail (SES v2) from the deployment's sender domain, the one identity the function sends from."""
        identity = Stack.of(self).format_arn(
            service="ses", resource="identity", resource_name=platform.settings.privacy_sender_domain
        )
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=[identity]))

    def _grant_signing_keys(self, platform: Platform, *, write: bool) -> None:
        """GetSecretValue (and PutSecretValue to write) on the one secret, and the KMS operations Secrets Manager
        performs for it: Decrypt to read, GenerateDataKey for each new version. KMS use is allowed only through
        Secrets Manager and only for this secret (its ARN is in the encryption context of every call)."""
        keys = platform.signing_keys
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"] + (["secretsmanager:PutSecretValue"] if write else []),
                resources=[keys.secret_arn],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"] + (["kms:GenerateDataKey"] if write else []),
                resources=[keys.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com",
                        "kms:EncryptionContext:SecretARN": keys.secret_arn,
                    }
                },
            )
        )


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention enum for ``days`` (one of the values CloudWatch accepts)."""
    by_days = {
        1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
        60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
        365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
        1096: "THREE_YEARS", 1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS",
        2922: "EIGHT_YEARS", 3288: "NINE_YEARS", 3653: "TEN_YEARS",
    }  # fmt: skip
    return getattr(logs.RetentionDays, by_days[days])  # type: ignore[no-any-return]
