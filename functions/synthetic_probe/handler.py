"""Every minute: check readiness from inside the deployment, record the result, publish a metric."""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness
from firstmile.health.store import dependency_checks
from firstmile.observability import metrics


def probe(event: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    container().probe_results.record(readiness)
    metrics.add_metric(name="ProbeSuccess", unit="Count", value=1 if readiness.status == "ok" else 0)
    return {"status": readiness.status, "failed": readiness.failed}


lambda_handler = entrypoints.job(probe)
