"""The Firstmile CDK app, generated from the catalogue. ``cdk synth`` runs ``python -m infra.app``.

Stacks are environment-agnostic: synth makes no lookups and no AWS calls, so it needs neither credentials
nor Docker. ``build_app`` takes the catalogue as an argument so the infra tests can synthesize fixtures.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from typing import Any

# jsii prints a banner about the Node version on every start; the version is pinned by the project.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Tags  # noqa: E402

from functions.catalog import API_STACK, CATALOG, Function, LogSubscription, assemble  # noqa: E402
from infra.constructs.function import CodeLocator, function_folder  # noqa: E402
from infra.layer import build_core_layer  # noqa: E402
from infra.nag import add_rule_packs, unacknowledged_findings  # noqa: E402
from infra.settings import REPO_ROOT, DeploymentSettings  # noqa: E402
from infra.stacks.api import ApiStack  # noqa: E402
from infra.stacks.data import DataStack  # noqa: E402
from infra.stacks.domain import DomainStack, stack_suffix  # noqa: E402


def build_app(
    catalog: tuple[Function, ...] = CATALOG,
    *,
    context: dict[str, Any] | None = None,
    outdir: str | None = None,
    locate_code: CodeLocator = function_folder,
) -> App:
    """The whole app for ``catalog``: data, API and the stacks the catalogue names, checked by cdk-nag on synth."""
    # cdk.json's context (feature flags included) also applies when the app is built without the CLI, as
    # in the tests; the CLI's own context and -c values still take precedence over these.
    app = App(context={**project_context(), **(context or {})}, outdir=outdir)
    catalog = assemble(catalog)  # a catalogue given by a test is held to the same rules as the real one
    settings = DeploymentSettings.from_context(app)
    layer = build_core_layer()

    data = DataStack(app, "FirstmileData", catalog=catalog, settings=settings, **_stack(settings, "data", "Data"))
    api = ApiStack(
        app,
        "FirstmileApi",
        catalog=catalog,
        settings=settings,
        layer=layer,
        locate_code=locate_code,
        **_stack(settings, "api", "HTTP API"),
    )
    api.add_stack_dependency(data)
    stacks: dict[str, DomainStack] = {}
    for name, functions in _by_stack(catalog).items():
        stack = DomainStack(
            app,
            f"Firstmile{_camel(name)}",
            functions=functions,
            catalog=catalog,
            settings=settings,
            layer=layer,
            locate_code=locate_code,
            # Worded as when stacks were named after domains; the text is part of every deployed stack.
            **_stack(settings, stack_suffix(name), f"the {name} domain"),
        )
        # Imports by name are invisible to CDK's ordering: deploy the exporting stacks first.
        stack.add_stack_dependency(data)
        stack.add_stack_dependency(api)
        stacks[name] = stack
    # Every function's log group is subscribed to the records' aggregator (decision 0101): its stack, with its
    # permission, is deployed before the others.
    subscriber = next((f.stack for f in catalog if isinstance(f.trigger, LogSubscription)), None)
    for name, stack in stacks.items():
        if subscriber is not None and name != subscriber:
            stack.add_stack_dependency(stacks[subscriber])
    Tags.of(app).add("firstmile:stage", settings.stage)
    add_rule_packs(app)
    return app


def project_context() -> dict[str, Any]:
    """The ``context`` block of ``cdk.json``."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def _by_stack(catalog: tuple[Function, ...]) -> dict[str, list[Function]]:
    """The functions of each stack the catalogue names, in catalogue order; the API stack's own (the authorizer)
    are built by ``ApiStack``."""
    stacks: dict[str, list[Function]] = defaultdict(list)
    for function in catalog:
        if function.stack != API_STACK:
            stacks[function.stack].append(function)
    return dict(stacks)


def _stack(settings: DeploymentSettings, suffix: str, what: str) -> dict[str, Any]:
    return {
        "stack_name": settings.stack_name(suffix),
        "description": f"Firstmile {settings.stage}: {what}",
        "termination_protection": settings.stage not in ("dev", "test"),
    }


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def main() -> int:
    """Synthesize the app; exit non-zero when cdk-nag left any finding unacknowledged."""
    app = build_app()
    assembly = app.synth()
    findings = unacknowledged_findings(assembly.directory)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"cdk-nag: {len(findings)} unacknowledged finding(s); synth failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
