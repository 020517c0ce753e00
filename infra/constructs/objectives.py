"""The service level objectives as CloudWatch alarms and one dashboard, generated from their one definition
(``firstmile.sla.objectives``; decision 0102).

For each objective and each multiwindow rule (``BURN_WINDOWS``): a metric-math alarm on the long window's burn rate,
one on the short window's, and a composite alarm when both hold, which notifies the alarm topic (and again on
recovery). A burn rate is the window's bad share divided by the objective's budget; below the low-traffic guard
(``min_events`` in the window) it is 0, so a handful of requests never pages anyone.

The counts come from the request records' embedded metrics (``firstmile.sla.requests``: dimensions ``service`` and
``audience``) and the synthetic probe's ``ProbeSuccess`` (dimension ``service``).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from firstmile.sla.objectives import BURN_WINDOWS, OBJECTIVES, BurnWindow, Objective, ProbeObjective
from firstmile.sla.requests import (
    NAMESPACE,
    REQUESTS_METRIC,
    SERVER_ERRORS_METRIC,
    SERVICE,
    mark_metric,
    slower_than_metric,
)

PROBE_METRIC = "ProbeSuccess"


def _pascal(key: str) -> str:
    return "".join(part.capitalize() for part in key.replace("_", "-").split("-"))


def window_name(minutes: int) -> str:
    """``5m``, ``6h``, ``3d``."""
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def burn_rate(objective: Objective, minutes: int) -> cloudwatch.MathExpression:
    """The objective's burn rate over ``minutes`` as metric math: bad share / budget, 0 below the guard."""
    period = Duration.minutes(minutes)
    if isinstance(objective, ProbeObjective):
        # Ids are unique per window: a dashboard graph draws several windows' expressions together.
        runs, ready = f"runs_{minutes}", f"ready_{minutes}"
        using = {
            runs: _metric(PROBE_METRIC, None, "SampleCount", period),
            ready: _metric(PROBE_METRIC, None, "Sum", period),
        }
        total, bad = f"FILL({runs}, 0)", f"(FILL({runs}, 0) - FILL({ready}, 0))"
    else:
        if objective.marked is not None:
            bad_metric = mark_metric(objective.marked)
        elif objective.slower_than_ms is not None:
            bad_metric = slower_than_metric(objective.slower_than_ms)
        else:
            bad_metric = SERVER_ERRORS_METRIC
        using = {}
        for index, audience in enumerate(objective.audiences):
            using[f"t{index}_{minutes}"] = _metric(REQUESTS_METRIC, audience, "Sum", period)
            using[f"b{index}_{minutes}"] = _metric(bad_metric, audience, "Sum", period)
        total = "(" + " + ".join(f"FILL(t{i}_{minutes}, 0)" for i in range(len(objective.audiences))) + ")"
        bad = "(" + " + ".join(f"FILL(b{i}_{minutes}, 0)" for i in range(len(objective.audiences))) + ")"
    return cloudwatch.MathExpression(
        expression=f"IF({total} >= {objective.min_events}, {bad} / {total}, 0) / {objective.budget}",
        using_metrics=using,
        label=f"{objective.key} burn rate over {window_name(minutes)}",
        period=period,
    )


def _metric(name: str, audience: str | None, statistic: str, period: Duration) -> cloudwatch.Metric:
    dimensions = {"service": SERVICE} if audience is None else {"service": SERVICE, "audience": audience}
    return cloudwatch.Metric(
        namespace=NAMESPACE, metric_name=name, dimensions_map=dimensions, statistic=statistic, period=period
    )


class ObjectiveAlarms(Construct):
    """The burn-rate alarms of every objective, and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        alarm_topic: sns.ITopic,
        objectives: tuple[Objective, ...] = OBJECTIVES,
        windows: tuple[BurnWindow, ...] = BURN_WINDOWS,
    ) -> None:
        super().__init__(scope, construct_id)
        self.composites: dict[str, cloudwatch.CompositeAlarm] = {}
        for objective in objectives:
            for rule in windows:
                self._rule(stage, objective, rule, alarm_topic)
        self.dashboard = self._dashboard(stage, objectives, windows)

    def _rule(self, stage: str, objective: Objective, rule: BurnWindow, topic: sns.ITopic) -> None:
        name = f"{objective.key}-{window_name(rule.long_minutes)}-{window_name(rule.short_minutes)}"
        parts = []
        for minutes in (rule.long_minutes, rule.short_minutes):
            parts.append(
                cloudwatch.Alarm(
                    self,
                    f"{_pascal(objective.key)}Burn{window_name(minutes)}For{window_name(rule.long_minutes)}",
                    alarm_name=f"firstmile-{stage}-slo-{name}-{window_name(minutes)}",
                    alarm_description=(
                        f"{objective.title}: the budget burns at least {rule.factor:g}x too fast over "
                        f"{window_name(minutes)}. Part of the composite alarm firstmile-{stage}-slo-{name}."
                    ),
                    metric=burn_rate(objective, minutes),
                    threshold=rule.factor,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        composite = cloudwatch.CompositeAlarm(
            self,
            f"{_pascal(objective.key)}Burn{window_name(rule.long_minutes)}",
            composite_alarm_name=f"firstmile-{stage}-slo-{name}",
            alarm_description=(
                f"{objective.title}. The error budget burns at least {rule.factor:g}x too fast over both "
                f"{window_name(rule.long_minutes)} and {window_name(rule.short_minutes)} ({rule.severity}). "
                f"GET /v1/sla/breach-check says how much is left. Runbook: {objective.runbook}"
            ),
            alarm_rule=cloudwatch.AlarmRule.all_of(*parts),
        )
        composite.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        composite.add_ok_action(cloudwatch_actions.SnsAction(topic))
        self.composites[name] = composite

    def _dashboard(
        self, stage: str, objectives: tuple[Objective, ...], windows: tuple[BurnWindow, ...]
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"firstmile-{stage}-service-levels")
        audiences = sorted({a for o in objectives if not isinstance(o, ProbeObjective) for a in o.audiences})
        five = Duration.minutes(5)
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests and server errors by audience (5 min)",
                left=[_metric(REQUESTS_METRIC, a, "Sum", five) for a in audiences],
                right=[_metric(SERVER_ERRORS_METRIC, a, "Sum", five) for a in audiences],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Latency p95 and p99 by audience (5 min)",
                left=[_metric("Latency", a, stat, five) for a in audiences for stat in ("p95", "p99")],
                width=12,
            ),
        )
        for objective in objectives:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title=f"{objective.key}: burn rate ({objective.title})",
                    left=[burn_rate(objective, rule.long_minutes) for rule in windows]
                    + [burn_rate(objective, rule.short_minutes) for rule in windows[:1]],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=rule.factor, label=f"{rule.factor:g}x")
                        for rule in windows
                    ],
                    width=24,
                )
            )
        return dashboard
