"""Connects a catalogue function to its one trigger: an HTTP route, a schedule, a queue or the table stream.

The ``Authorizer`` trigger is the API's own: ``ApiStack`` builds that function and wires it (FirstmileHttpApi).
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets

from functions.catalog import Authorizer, LogSubscription, Queue, Route, Schedule, TableStream
from infra.constructs.function import CatalogFunction
from infra.nag import acknowledge, flattened
from infra.platform import Platform, imported

_SYNC_INVOCATION = (
    "Invoked synchronously by {caller}: a failure returns to {caller}, so a DeadLetterConfig, which only "
    "applies to asynchronous invocations, would never receive anything."
)


def connect_trigger(fn: CatalogFunction, platform: Platform) -> None:
    """Wire ``fn`` to the trigger its catalogue entry names, and its log group to the records' subscriber."""
    _subscribe_records(fn, platform)
    trigger = fn.spec.trigger
    if isinstance(trigger, Route):
        _connect_route(fn, trigger, platform)
    elif isinstance(trigger, Schedule):
        _connect_schedule(fn, trigger, platform)
    elif isinstance(trigger, Queue):
        _connect_queue(fn, trigger, platform)
    elif isinstance(trigger, TableStream):
        _connect_stream(fn, trigger, platform)
    elif isinstance(trigger, LogSubscription):
        _connect_log_subscription(fn, trigger, platform)
    elif isinstance(trigger, Authorizer):
        raise ValueError(f"{fn.spec.name}: an Authorizer function is built and wired by the API stack only")
    else:  # pragma: no cover - the catalogue's Trigger union is closed
        raise TypeError(f"{fn.spec.name}: unknown trigger {trigger!r}")


def _connect_route(fn: CatalogFunction, route: Route, platform: Platform) -> None:
    if platform.http_api is None:
        raise ValueError(f"{fn.spec.name} serves {route.key} but the app has no HTTP API")
    if route.role != "public" and platform.authorizer_id is None:
        raise ValueError(
            f"{route.key} needs the {route.role!r} role, but the catalogue has no function with an Authorizer "
            "trigger; a non-public route is never deployed without one"
        )
    # The route and its integration live in this (the function's) stack and only refer to the API: the
    # API stack never refers back, so there is no cycle between the stacks.
    http_route = apigwv2.HttpRoute(
        fn,
        "Route",
        http_api=platform.http_api,
        route_key=apigwv2.HttpRouteKey.with_(route.path, apigwv2.HttpMethod(route.method)),
        integration=integrations.HttpLambdaIntegration(
            "Integration",
            fn.function,
            payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
        ),
    )
    if route.role == "public":
        acknowledge(
            http_route,
            "AwsSolutions-APIG4",
            f"{route.key} is public by design in the catalogue: {fn.spec.description}",
        )
    else:
        # The API stack owns the one authorizer; it is attached here by id on the L1 route, because binding an
        # L2 authorizer to an imported API would create another authorizer in every domain stack.
        cfn_route = http_route.node.default_child
        assert isinstance(cfn_route, apigwv2.CfnRoute)  # noqa: S101 - the L2 route always has its L1 child
        cfn_route.authorization_type = "CUSTOM"
        cfn_route.authorizer_id = platform.authorizer_id
    _acknowledge_sync(fn, "API Gateway")


REQUEST_RECORDS_FILTER = "RequestRecords"


def _subscribe_records(fn: CatalogFunction, platform: Platform) -> None:
    """The function's records (firstmile.sla.requests: a route's answers, a queue's messages, the collector's
    letters) reach the aggregator. CloudFormation checks the aggregator's permission when it creates the filter, so
    the aggregator's stack is deployed first (infra/app.py)."""
    if platform.log_subscriber is None or isinstance(fn.spec.trigger, LogSubscription):
        return
    subscriber, pattern = platform.log_subscriber
    logs.CfnSubscriptionFilter(
        fn,
        REQUEST_RECORDS_FILTER,
        log_group_name=fn.log_group.log_group_name,
        filter_pattern=pattern,
        destination_arn=Stack.of(fn).format_arn(
            service="lambda",
            resource="function",
            resource_name=subscriber,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        ),
    )


LOGS_INVOKE_PERMISSION = "LogsInvoke"
ACCESS_LOG_INVOKE_PERMISSION = "AccessLogsInvoke"
ACCESS_LOG_FILTER = "GatewayAnswers"


def _connect_log_subscription(fn: CatalogFunction, trigger: LogSubscription, platform: Platform) -> None:
    """CloudWatch Logs may invoke ``fn`` for the stage's function log groups (their filters name it); with an
    access log pattern, ``fn`` also subscribes to the API's access log, which the API stack (deployed before this
    one) exports."""
    stack = Stack.of(fn)
    if trigger.access_log_pattern is not None:
        settings = platform.settings
        fn.function.add_permission(
            ACCESS_LOG_INVOKE_PERMISSION,
            principal=iam.ServicePrincipal("logs.amazonaws.com"),
            source_account=stack.account,
            source_arn=imported(settings, "http-access-log-group-arn"),
        )
        access_filter = logs.CfnSubscriptionFilter(
            fn,
            ACCESS_LOG_FILTER,
            log_group_name=imported(settings, "http-access-log-group-name"),
            filter_pattern=trigger.access_log_pattern,
            destination_arn=fn.function.function_arn,
        )
        access_filter.node.add_dependency(fn.function.node.find_child(ACCESS_LOG_INVOKE_PERMISSION))
    fn.function.add_permission(
        LOGS_INVOKE_PERMISSION,
        principal=iam.ServicePrincipal("logs.amazonaws.com"),
        source_account=stack.account,
        source_arn=stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/lambda/firstmile-{platform.settings.stage}-*:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        ),
    )


def order_log_subscriptions(stack: Stack) -> None:
    """In the aggregator's own stack, its route functions' filters are created after its permission."""
    constructs = stack.node.find_all()
    permission = next((c for c in constructs if c.node.id == LOGS_INVOKE_PERMISSION), None)
    if permission is None:
        return
    for construct in constructs:
        if isinstance(construct, logs.CfnSubscriptionFilter):
            construct.node.add_dependency(permission)


def _connect_schedule(fn: CatalogFunction, schedule: Schedule, platform: Platform) -> None:
    # An own role, so its permissions sit next to the function they belong to (the target grants it exactly
    # lambda:InvokeFunction on this function and sqs:SendMessage on the scheduler DLQ).
    role = iam.Role(
        fn,
        "ScheduleRole",
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(fn).account}},
        ),
        description=f"EventBridge Scheduler invoking {fn.spec.name}",
    )
    scheduler.Schedule(
        fn,
        "Schedule",
        description=f"Runs {fn.spec.name}: {fn.spec.description}"[:512],
        schedule=scheduler.ScheduleExpression.expression(schedule.expression),
        target=scheduler_targets.LambdaInvoke(
            fn.function,
            dead_letter_queue=platform.scheduler_dead_letter,
            retry_attempts=schedule.retry_attempts,
            max_event_age=Duration.seconds(schedule.max_event_age_seconds),
            role=role,
        ),
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{flattened(fn, fn.function.function_arn)}:*]",
        "Invoking a function also needs its qualified ARNs (versions and aliases); the grant names this one function.",
    )


def _connect_queue(fn: CatalogFunction, queue: Queue, platform: Platform) -> None:
    fn.function.add_event_source(
        sources.SqsEventSource(
            platform.queue(queue.name),
            batch_size=queue.batch_size,
            max_batching_window=Duration.seconds(queue.max_batching_window_seconds)
            if queue.max_batching_window_seconds
            else None,
            report_batch_item_failures=True,
            # A consumer capped by reserved concurrency would otherwise be throttled, and every throttled
            # receive counts toward maxReceiveCount: work would be dead-lettered without ever running.
            max_concurrency=fn.spec.reserved_concurrency if (fn.spec.reserved_concurrency or 0) >= 2 else None,
        )
    )
    _acknowledge_sync(fn, "its SQS event source mapping")
    no_destination = (
        "SQS event source mappings take no on-failure destination; a message that keeps failing goes to the "
        "queue's own dead-letter queue (redrive policy), which is alarmed."
    )
    acknowledge(fn.function, "Serverless-LambdaEventSourceMappingDestination", no_destination)
    # cfn-lint-serverless ES1001 asks the same of every mapping; exempted for the same reason.
    for child in fn.function.node.children:
        if isinstance(child, lambda_.EventSourceMapping):
            cfn_mapping = child.node.default_child
            assert isinstance(cfn_mapping, lambda_.CfnEventSourceMapping)  # noqa: S101 - L2 always has its L1
            cfn_mapping.add_metadata("cfn-lint", {"config": {"ignore_checks": ["ES1001"]}})


def _connect_stream(fn: CatalogFunction, stream: TableStream, platform: Platform) -> None:
    source = sources.DynamoEventSource(
        platform.table,
        starting_position=lambda_.StartingPosition.LATEST,
        batch_size=stream.batch_size,
        max_batching_window=Duration.seconds(stream.max_batching_window_seconds),
        retry_attempts=stream.retry_attempts,
        bisect_batch_on_error=True,
        report_batch_item_failures=True,
        # An S3 destination receives the whole failed batch beside its description; an SQS one would receive
        # only the shard and sequence numbers, and the stream forgets the records after 24 hours.
        on_failure=_BucketOnFailure(platform.stream_failures_bucket),
        # EventCount turns on the mapping's own metrics, among them the two alarmed below.
        metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
        # Only the changes the function counts invoke it (and are billed); the local poller filters the same.
        filters=[_inserts_of(stream.inserts_of)] if stream.inserts_of else None,
    )
    fn.function.add_event_source(source)
    _alarm_on_given_up_records(fn, source.event_source_mapping_id, platform)
    _acknowledge_sync(fn, "its DynamoDB stream event source mapping")


def _inserts_of(kinds: tuple[str, ...]) -> dict[str, object]:
    """The filter pattern that admits INSERTs of items whose ``kind`` is one of ``kinds``."""
    return lambda_.FilterCriteria.filter(
        {"eventName": lambda_.FilterRule.is_equal("INSERT"), "dynamodb": {"NewImage": {"kind": {"S": list(kinds)}}}}
    )


# Where Lambda writes an S3 on-failure destination's objects: aws/lambda/<mapping id>/<shard>/<yyyy/mm/dd>/...
FAILED_BATCHES_PREFIX = "aws/lambda/"


@jsii.implements(lambda_.IEventSourceDlq)
class _BucketOnFailure:
    """An S3 on-failure destination that lets the function's role write failed batches and nothing else.

    aws-cdk-lib's ``S3OnFailureDestination`` grants read, write and delete on the whole bucket; Lambda needs only
    ``s3:PutObject`` (and ``s3:ListBucket``) to deliver a failed batch.
    """

    def __init__(self, bucket: s3.IBucket) -> None:
        self._bucket = bucket

    def bind(
        self, _target: lambda_.IEventSourceMapping, target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        target_handler.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self._bucket.bucket_arn])
        )
        objects = self._bucket.arn_for_objects(f"{FAILED_BATCHES_PREFIX}*")
        target_handler.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects]))
        if target_handler.role is not None:
            acknowledge(
                target_handler.role,
                f"AwsSolutions-IAM5[Resource::{flattened(target_handler, objects)}]",
                "Lambda names each failed batch's object at delivery time, under the prefix of its own failed "
                "batches in the stream-failures bucket; the role may only add objects there.",
            )
        return lambda_.DlqDestinationConfig(destination=self._bucket.bucket_arn)


# The mapping's metrics (EventCount group) that say records were given up on: kept in the on-failure destination,
# or lost because even that failed.
_GIVEN_UP = {
    "KeptAfterFailure": (
        "OnFailureDestinationDeliveredEventCount",
        "kept stream records it failed after its retries in the stream-failures bucket",
    ),
    "DroppedRecords": ("DroppedEventCount", "dropped stream records (retries and its on-failure destination failed)"),
}


def _alarm_on_given_up_records(fn: CatalogFunction, mapping_id: str, platform: Platform) -> None:
    for construct_id, (metric_name, what) in _GIVEN_UP.items():
        alarm = cloudwatch.Alarm(
            fn,
            construct_id,
            alarm_description=f"{fn.spec.name} {what}.",
            metric=cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name=metric_name,
                dimensions_map={"EventSourceMappingUUID": mapping_id},
                period=Duration.minutes(5),
                statistic=cloudwatch.Stats.SUM,
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(platform.alarm_topic))


def _acknowledge_sync(fn: CatalogFunction, caller: str) -> None:
    acknowledge(fn.function, "Serverless-LambdaDLQ", _SYNC_INVOCATION.format(caller=caller))
