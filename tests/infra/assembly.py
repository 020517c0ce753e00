"""Read a synthesized cloud assembly: templates by stack, and references followed across stacks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ResourceRef:
    """A resource in one stack's template, and the attribute a reference asked for."""

    stack: str
    logical_id: str
    attribute: str | None = None


class Assembly:
    """The templates of one synth, keyed by stack id, with cross-stack references resolved."""

    def __init__(self, directory: str | Path, stage: str = "dev") -> None:
        self.directory = Path(directory)
        self.stage = stage
        self.templates: dict[str, dict[str, Any]] = {
            path.name.removesuffix(".template.json"): json.loads(path.read_text())
            for path in sorted(self.directory.glob("*.template.json"))
        }
        self.exports: dict[str, tuple[str, Any]] = {}
        for stack, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if name is not None:
                    assert name not in self.exports, f"export {name} is defined twice"
                    self.exports[name] = (stack, output["Value"])

    def resources(self, resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        """Every ``(stack, logical id, resource)`` of ``resource_type`` in the assembly."""
        return [
            (stack, logical_id, resource)
            for stack, template in self.templates.items()
            for logical_id, resource in template.get("Resources", {}).items()
            if resource["Type"] == resource_type
        ]

    def resource(self, ref: ResourceRef) -> dict[str, Any]:
        """The template entry ``ref`` points at."""
        resource: dict[str, Any] = self.templates[ref.stack]["Resources"][ref.logical_id]
        return resource

    def resolve(self, stack: str, value: Any) -> ResourceRef | None:
        """The resource a ``Ref``/``Fn::GetAtt``/``Fn::ImportValue`` in ``stack`` points at, if it is one."""
        if not isinstance(value, dict):
            return None
        if "Ref" in value:
            name = value["Ref"]
            return ResourceRef(stack, name) if name in self.templates[stack].get("Resources", {}) else None
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return ResourceRef(stack, logical_id, attribute)
        if "Fn::ImportValue" in value:
            exporting_stack, exported = self.exports[value["Fn::ImportValue"]]
            return self.resolve(exporting_stack, exported)
        return None

    def resolve_arn_prefix(self, stack: str, value: Any) -> ResourceRef | None:
        """Like :meth:`resolve`, also for ``Fn::Join`` expressions that start with a reference (``arn/*``)."""
        direct = self.resolve(stack, value)
        if direct is not None or not isinstance(value, dict) or "Fn::Join" not in value:
            return direct
        _, parts = value["Fn::Join"]
        return self.resolve(stack, parts[0]) if parts else None


def trigger_providers(assembly: Assembly) -> set[ResourceRef]:
    """The functions that run ``Custom::Trigger`` resources (aws-cdk-lib's trigger provider), one per stack."""
    found = set()
    for stack, _, trigger in assembly.resources("Custom::Trigger"):
        provider = assembly.resolve(stack, trigger["Properties"]["ServiceToken"])
        assert provider is not None and assembly.resource(provider)["Type"] == "AWS::Lambda::Function"
        found.add(ResourceRef(provider.stack, provider.logical_id))
    return found


def function_resources(assembly: Assembly) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every catalogue function by catalogue name (its ``FunctionName`` is ``firstmile-<stage>-<name>``): every
    Lambda function of the app except the trigger providers."""
    prefix = f"firstmile-{assembly.stage}-"
    providers = trigger_providers(assembly)
    found = {}
    for stack, logical_id, resource in assembly.resources("AWS::Lambda::Function"):
        if ResourceRef(stack, logical_id) in providers:
            continue
        name = resource["Properties"]["FunctionName"]
        assert name.startswith(prefix), f"{stack}/{logical_id} is named {name!r}, not {prefix}<name>"
        found[name.removeprefix(prefix)] = (stack, logical_id, resource)
    return found


def role_statements(assembly: Assembly, stack: str, role_logical_id: str) -> list[dict[str, Any]]:
    """Every policy statement attached to a role: inline policies and AWS::IAM::Policy resources."""
    role = assembly.templates[stack]["Resources"][role_logical_id]
    statements = [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for _, policy in assembly.templates[stack]["Resources"].items():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    """A CloudFormation value that may be one item or a list, as a list."""
    return value if isinstance(value, list) else [value]
