"""Every minute: one step of the weekly restore drill (decision 0104). A restore that took longer than the
objective, or a comparison that found a difference, is published as a metric its alarm watches."""

from typing import Any

from firstmile import entrypoints
from firstmile.backups.service import (
    RESTORE_DRILL_FAILED_METRIC,
    RESTORE_OVER_RTO_METRIC,
    RESTORE_SECONDS_METRIC,
    RTO,
)
from firstmile.clock import utc_now
from firstmile.composition import container
from firstmile.observability import metrics

# What the step may spend reading the scratch tables, of the function's 300 s.
READ_BUDGET_SECONDS = 240.0


def drill(event: dict[str, Any]) -> dict[str, Any]:
    now = utc_now()
    advanced = container().restore_drills.advance(now, READ_BUDGET_SECONDS)
    if advanced is None:
        return {"drill": None}
    if advanced.state == "restored" and advanced.restored_at == now and advanced.restore_seconds is not None:
        metrics.add_metric(name=RESTORE_SECONDS_METRIC, unit="Seconds", value=advanced.restore_seconds)
        if advanced.restore_seconds > RTO.total_seconds():
            metrics.add_metric(name=RESTORE_OVER_RTO_METRIC, unit="Count", value=1)
    if advanced.state == "failed" and advanced.finished_at == now:  # once: not again at each clean-up run
        metrics.add_metric(name=RESTORE_DRILL_FAILED_METRIC, unit="Count", value=1)
    return {"drill": advanced.drill_id, "state": advanced.state, "error": advanced.error}


lambda_handler = entrypoints.job(drill)
