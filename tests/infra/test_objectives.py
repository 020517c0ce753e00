"""The objectives become CloudWatch burn-rate alarms and a dashboard from their one definition (decision 0102): every
objective has a composite alarm per multiwindow rule over two metric-math alarms with the rule's windows and factor,
and an objective added to the definitions gets its alarms with nothing else changed, cdk-nag finding nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns

from firstmile.sla.objectives import BURN_WINDOWS, OBJECTIVES, RequestObjective
from infra.constructs.objectives import ObjectiveAlarms, window_name
from infra.nag import VALIDATION_REPORT, add_rule_packs, unacknowledged_findings
from tests.infra.conftest import Synth


def composites(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::CompositeAlarm"
    }


def metric_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and "-slo-" in str(r["Properties"].get("AlarmName"))
    }


def rule_names(key: str) -> list[str]:
    return [f"{key}-{window_name(r.long_minutes)}-{window_name(r.short_minutes)}" for r in BURN_WINDOWS]


def test_every_objective_has_a_composite_burn_rate_alarm_per_rule(real_synth: Synth) -> None:
    template = real_synth.assembly.templates["FirstmileData"]
    stage = real_synth.assembly.stage
    found, parts = composites(template), metric_alarms(template)

    for objective in OBJECTIVES:
        for rule, name in zip(BURN_WINDOWS, rule_names(objective.key), strict=True):
            composite = found[f"firstmile-{stage}-slo-{name}"]
            # Both windows must burn: the composite's rule names its two metric alarms
            assert json.dumps(composite["AlarmRule"]).count("ALARM(") == 2, name
            assert composite["AlarmActions"] and composite["OKActions"], name
            assert objective.runbook in composite["AlarmDescription"]
            for minutes in (rule.long_minutes, rule.short_minutes):
                alarm = parts[f"firstmile-{stage}-slo-{name}-{window_name(minutes)}"]
                assert alarm["Threshold"] == rule.factor
                assert alarm["EvaluationPeriods"] == 1
                (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
                assert f">= {objective.min_events}" in expression["Expression"]
                assert expression["Expression"].endswith(f"/ {objective.budget}")
                periods = {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m}
                assert periods == {minutes * 60}, (name, minutes)
    assert len(found) == len(OBJECTIVES) * len(BURN_WINDOWS)
    dashboards = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.dumps(dashboards[0]["Properties"]["DashboardBody"])
    assert all(f"{o.key}: burn rate" in body for o in OBJECTIVES)


def test_an_objective_added_to_the_definitions_gets_its_alarms_and_cdk_nag_finds_nothing(tmp_path: Path) -> None:
    # Given the definitions with one objective more
    extra = RequestObjective(
        key="admin-latency",
        title="Admin routes answer within 1 s (99 % of requests)",
        target=0.99,
        audiences=("admin",),
        slower_than_ms=1000,
        runbook="docs/runbooks/slo-latency.md",
        min_events=20,
    )
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Objectives")
    topic = sns.Topic(stack, "Topic", enforce_ssl=True)
    ObjectiveAlarms(stack, "Objectives", stage="test", alarm_topic=topic, objectives=(*OBJECTIVES, extra))
    add_rule_packs(app)

    # When the app is synthesized
    app.synth()
    template = json.loads((tmp_path / "Objectives.template.json").read_text())

    # Then the new objective has its three composite alarms (and the others still theirs), and cdk-nag is clean
    found = composites(template)
    assert {f"firstmile-test-slo-{name}" for name in rule_names("admin-latency")} <= set(found)
    assert len(found) == (len(OBJECTIVES) + 1) * len(BURN_WINDOWS)
    assert "SlowerThan1000ms" in json.dumps(metric_alarms(template))
    assert (tmp_path / VALIDATION_REPORT).exists()
    assert [str(f) for f in unacknowledged_findings(tmp_path)] == []
