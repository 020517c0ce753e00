"""cdk-nag on every synth, and the one way the app acknowledges a finding.

The AwsSolutions and Serverless packs run as CDK validation plugins. CDK writes their findings to the
assembly's validation report; it fails the synth on some of them only (it forgives warnings once any rule is
acknowledged, and a Python app cannot pass the plugin's exit code on), so :func:`unacknowledged_findings`
reads the report and the app and the infra tests fail on any finding that is left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

VALIDATION_REPORT = "validation-report.json"
# Context key: false turns acknowledgements off (they are recorded as WOULD_ACKNOWLEDGE metadata instead).
ACKNOWLEDGEMENTS_CONTEXT = "firstmile:nagAcknowledgements"
WOULD_ACKNOWLEDGE = "firstmile:would-acknowledge"


def add_rule_packs(app: App) -> None:
    """Run the AwsSolutions and Serverless packs over the whole app on every synth."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
    )


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept finding ``rule`` on ``scope`` and everything under it, for ``reason``.

    ``reason`` is written into the template's metadata next to the resource, so it has to say why the finding
    does not apply here, not merely that it was accepted.
    """
    if len(reason) < 20:
        raise ValueError(f"acknowledging {rule} needs a real reason, got {reason!r}")
    if scope.node.try_get_context(ACKNOWLEDGEMENTS_CONTEXT) is False:
        # Audit mode: the finding is reported instead, and the acknowledgement is only recorded, so a test
        # can prove that every acknowledgement still silences a finding that really occurs.
        scope.node.add_metadata(WOULD_ACKNOWLEDGE, {"rule": rule, "reason": reason})
        return
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def flattened(scope: IConstruct, value: str) -> str:
    """``value`` (a string that may hold tokens) spelled the way cdk-nag spells it in a finding id.

    cdk-nag names a wildcard resource by flattening the resolved CloudFormation expression: ``Fn::Join`` is
    joined, ``Ref``/``Fn::GetAtt`` become ``<Name>``/``<Name.Attr>`` and ``Fn::ImportValue`` becomes the
    export name. Acknowledgements must match finding ids exactly, so they are built from this.
    """
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(node: Any) -> str:
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(_flatten(item) for item in items)
        if "Fn::Sub" in node:
            return _flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten(resource)}.{_flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return _flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


@dataclass(frozen=True)
class Finding:
    """One finding the packs reported and nothing acknowledged."""

    plugin: str
    rule: str
    severity: str
    description: str
    path: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.rule} at {self.path}: {self.description}"


def unacknowledged_findings(assembly_dir: str | Path) -> list[Finding]:
    """Every finding left in the validation report of the cloud assembly in ``assembly_dir``."""
    report_file = Path(assembly_dir) / VALIDATION_REPORT
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text())
    findings: list[Finding] = []
    for plugin in _plugin_reports(report):
        name = str(plugin.get("summary", {}).get("pluginName") or plugin.get("pluginName") or "?")
        for violation in plugin.get("violations", []):
            resources = violation.get("violatingConstructs") or violation.get("violatingResources") or [{}]
            for resource in resources:
                findings.append(
                    Finding(
                        plugin=name,
                        rule=str(violation.get("ruleName")),
                        severity=str(violation.get("severity", "error")),
                        description=str(violation.get("description", "")).split(". ")[0],
                        path=str(resource.get("constructPath") or resource.get("resourceLogicalId") or "?"),
                    )
                )
    return findings


def _plugin_reports(report: dict[str, Any]) -> list[dict[str, Any]]:
    reports = report.get("pluginReports")
    return list(reports) if isinstance(reports, list) else []
