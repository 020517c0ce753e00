"""Every minute: check readiness from inside the deployment, record the result, publish a metric."""

from typing import Any

from firstmile import entrypoints
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness
from firstmile.health.store import dependency_checks, record_probe_result
from firstmile.observability import metrics
from firstmile.platform import aws


def probe(event: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    record_probe_result(aws.table(settings.table_name), readiness)
    metrics.add_metric(name="ProbeSuccess", unit="Count", value=1 if readiness.status == "ok" else 0)
    return {"status": readiness.status, "failed": readiness.failed}


lambda_handler = entrypoints.job(probe)
