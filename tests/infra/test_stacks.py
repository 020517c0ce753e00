"""How the app is cut into stacks: as the catalogue says, under CloudFormation's limits, joined by named exports."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.assembly import function_resources
from tests.infra.conftest import Synth

# CloudFormation's limit is 500 resources per stack; staying under 400 leaves room to grow within a release.
MAX_RESOURCES_PER_STACK = 400


def test_every_stack_stays_under_400_resources(any_synth: Synth) -> None:
    for stack, template in any_synth.assembly.templates.items():
        count = len(template["Resources"])
        assert count < MAX_RESOURCES_PER_STACK, f"{stack} has {count} resources"


def test_one_stack_per_catalogue_stack_besides_data_and_api(any_synth: Synth) -> None:
    # (the Authorizer function's stack is the API's own)
    stacks = {f.stack for f in any_synth.catalog}
    expected = {"FirstmileData", "FirstmileApi"} | {
        "Firstmile" + "".join(p.capitalize() for p in s.split("_")) for s in stacks
    }
    assert set(any_synth.assembly.templates) == expected
    # and each function is in the stack its entry names
    for name, (stack, _, _) in function_resources(any_synth.assembly).items():
        assert stack == "Firstmile" + "".join(p.capitalize() for p in any_synth.spec(name).stack.split("_")), name


def test_stacks_are_environment_agnostic_and_named_per_stage(any_synth: Synth) -> None:
    # Given the assembly manifest
    manifest = json.loads((any_synth.assembly.directory / "manifest.json").read_text())
    stacks = {k: v for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"}

    # Then no stack is bound to an account or region (synth made no lookups) and names carry the stage
    for artifact_id, artifact in stacks.items():
        assert artifact["environment"] == "aws://unknown-account/unknown-region", artifact_id
        assert artifact["properties"]["stackName"].startswith(f"firstmile-{any_synth.assembly.stage}-")


def _intrinsics(node: Any, name: str) -> list[Any]:
    if isinstance(node, dict):
        found = [node[name]] if name in node else []
        return found + [x for v in node.values() for x in _intrinsics(v, name)]
    if isinstance(node, list):
        return [x for v in node for x in _intrinsics(v, name)]
    return []


def test_stacks_refer_to_each_other_only_through_named_stage_exports(any_synth: Synth) -> None:
    assembly = any_synth.assembly
    prefix = f"firstmile-{assembly.stage}-"
    for stack, template in assembly.templates.items():
        # No implicit cross-stack reference of any kind ...
        assert not _intrinsics(template, "Fn::GetStackOutput"), stack
        for output in template.get("Outputs", {}).values():
            name = output.get("Export", {}).get("Name")
            assert name is None or name.startswith(prefix), f"{stack} exports {name}"
        # ... and every import names an export another stack has.
        for name in _intrinsics(template, "Fn::ImportValue"):
            assert name in assembly.exports, f"{stack} imports {name}, which nothing exports"
            assert assembly.exports[name][0] != stack
