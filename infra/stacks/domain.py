"""One stack per ``stack`` the catalogue names: its functions, their triggers and their routes on the shared API."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from functions.catalog import Function, Route
from infra.constructs.core_layer import core_layer
from infra.constructs.first_run import run_after_deploy, runs_after_deploy
from infra.constructs.function import CatalogFunction, CodeLocator, function_folder
from infra.constructs.triggers import connect_trigger, order_log_subscriptions
from infra.layer import LayerBuild
from infra.platform import authorizer_function, import_platform
from infra.settings import DeploymentSettings


def stack_suffix(stack: str) -> str:
    """The suffix of a catalogue stack's CloudFormation name, ``firstmile-<stage>-<suffix>``."""
    return stack.replace("_", "-")


class DomainStack(Stack):
    """Every function the catalogue puts in one stack, built by the one factory and connected to its trigger."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: list[Function],
        catalog: tuple[Function, ...],
        settings: DeploymentSettings,
        layer: LayerBuild,
        locate_code: CodeLocator = function_folder,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        routes = [f.trigger for f in functions if isinstance(f.trigger, Route)]
        platform = import_platform(
            self,
            settings,
            catalog,
            with_api=bool(routes),
            with_authorizer=any(route.role != "public" for route in routes)
            and authorizer_function(catalog) is not None,
        )
        shared_layer = core_layer(self, layer)
        self.functions: dict[str, CatalogFunction] = {}
        for spec in functions:
            fn = CatalogFunction(
                self,
                "".join(part.capitalize() for part in spec.name.split("_")),
                spec=spec,
                platform=platform,
                layer=shared_layer,
                locate_code=locate_code,
            )
            connect_trigger(fn, platform)
            self.functions[spec.name] = fn
            if runs_after_deploy(spec):
                run_after_deploy(fn, settings=settings, stack_suffix=stack_suffix(spec.stack))
        order_log_subscriptions(self)
