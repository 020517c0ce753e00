"""The HTTP API: CORS from the allow-list, one default stage with JSON access logs and default throttling."""

from __future__ import annotations

import json

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.catalog import Authorizer
from infra.constructs.function import retention
from infra.settings import DeploymentSettings

# One JSON object per request: enough to find a request by id and see where its time and errors went.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationErrorMessage": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "errorMessage": "$context.error.message",
}
ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Correlation-Id"]
EXPOSE_HEADERS = [
    "ETag", "Retry-After", "X-Correlation-Id", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
]  # fmt: skip


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")))


class FirstmileHttpApi(Construct):
    """The API every route attaches to; routes themselves are added by the stacks that own the functions."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploymentSettings) -> None:
        super().__init__(scope, construct_id)
        cors = (
            apigwv2.CorsPreflightOptions(
                allow_origins=list(settings.cors_allow_origins),
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                allow_headers=ALLOW_HEADERS,
                expose_headers=EXPOSE_HEADERS,
                max_age=Duration.hours(1),
            )
            if settings.cors_allow_origins
            else None
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"firstmile-{settings.stage}",
            description=f"Firstmile {settings.stage}",
            cors_preflight=cors,
            # The default stage is created below, with access logs and throttling the built-in one lacks.
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(self.access_logs),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=settings.api_throttle_rate, burst_limit=settings.api_throttle_burst
            ),
        )
        self.authorizer: apigwv2.HttpAuthorizer | None = None

    def use_authorizer(self, handler: lambda_.IFunction, trigger: Authorizer) -> apigwv2.HttpAuthorizer:
        """Make ``handler`` the Lambda authorizer of the API; routes in other stacks attach it by id.

        No identity source: API Gateway would answer a request without one with its own bare 401 before the
        authorizer runs, while the design wants every refusal as problem+json from the function (the authorizer
        passes an ``auth_error`` code on). Without an identity source API Gateway has no cache key, so the result
        cache must be off, which decision 0013 (revocation within 5 s) requires anyway.
        """
        if trigger.result_ttl_seconds != 0:
            raise ValueError(
                f"Authorizer(result_ttl_seconds={trigger.result_ttl_seconds}): an authorizer without an identity "
                "source cannot cache its results; the TTL must be 0"
            )
        stack = Stack.of(self)
        self.authorizer = apigwv2.HttpAuthorizer(
            self,
            "Authorizer",
            http_api=self.api,
            authorizer_name="firstmile-token",
            type=apigwv2.HttpAuthorizerType.LAMBDA,
            identity_source=[],
            # Simple responses: the handler answers isAuthorized plus the caller's (or the refusal's) context.
            enable_simple_responses=True,
            payload_format_version=apigwv2.AuthorizerPayloadVersion.VERSION_2_0,
            authorizer_uri=stack.format_arn(
                service="apigateway",
                account="lambda",
                resource="path/2015-03-31/functions",
                resource_name=f"{handler.function_arn}/invocations",
            ),
            results_cache_ttl=Duration.seconds(trigger.result_ttl_seconds),
        )
        handler.add_permission(
            "InvokedByApiGateway",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=stack.format_arn(
                service="execute-api",
                resource=self.api.api_id,
                resource_name=f"authorizers/{self.authorizer.authorizer_id}",
            ),
        )
        return self.authorizer
