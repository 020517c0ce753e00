"""FirstmileApi: the HTTP API, its default stage, and the Lambda authorizer when the catalogue has one (the
function whose trigger is ``Authorizer``)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from functions.catalog import Authorizer, Function
from infra.constructs.core_layer import core_layer
from infra.constructs.function import CatalogFunction, CodeLocator, function_folder
from infra.constructs.http_api import FirstmileHttpApi
from infra.layer import LayerBuild
from infra.nag import acknowledge
from infra.platform import authorizer_function, import_platform, publish
from infra.settings import DeploymentSettings


class ApiStack(Stack):
    """The API that the domain stacks attach their routes to.

    The authorizer function is built here rather than in its domain's stack: API Gateway's authorizer and the
    function's invoke permission refer to each other, and keeping both in one stack avoids a cycle.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalog: tuple[Function, ...],
        settings: DeploymentSettings,
        layer: LayerBuild,
        locate_code: CodeLocator = function_folder,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.http = FirstmileHttpApi(self, "Http", settings=settings)
        publish(self, settings, "http-api-id", self.http.api.api_id, "The HTTP API routes attach to")
        publish(self, settings, "http-api-url", self.http.stage.url, "Base URL of the HTTP API", export=False)
        access_logs = self.http.access_logs
        publish(self, settings, "http-access-log-group-name", access_logs.log_group_name, "The API's access log")
        publish(self, settings, "http-access-log-group-arn", access_logs.log_group_arn, "The API's access log (ARN)")
        self.authorizer_function: CatalogFunction | None = None
        spec = authorizer_function(catalog)
        if spec is None:
            return
        assert isinstance(spec.trigger, Authorizer)  # noqa: S101 - authorizer_function selects by this type
        self.authorizer_function = CatalogFunction(
            self,
            "".join(part.capitalize() for part in spec.name.split("_")),
            spec=spec,
            platform=import_platform(self, settings, catalog, with_api=False, with_authorizer=False),
            layer=core_layer(self, layer),
            locate_code=locate_code,
        )
        authorizer = self.http.use_authorizer(self.authorizer_function.function, spec.trigger)
        publish(self, settings, "http-authorizer-id", authorizer.authorizer_id, "Authorizer of non-public routes")
        acknowledge(
            self.authorizer_function.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway as the authorizer: a failure ends that request with API Gateway's "
            "error answer, so a DeadLetterConfig, which only applies to asynchronous invocations, would never "
            "receive anything.",
        )
