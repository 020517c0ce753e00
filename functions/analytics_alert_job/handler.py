"""Hourly: judge every enabled drop-off alert rule against the funnel counters; a rule that starts or stops firing
writes an alert and an audit entry, and a start emits the metric the deployment alarms on."""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container


def run(_event: dict[str, Any]) -> dict[str, Any]:
    return {"rules": container().alert_rules.check_rules()}


lambda_handler = entrypoints.job(run)
