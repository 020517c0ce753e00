"""Every minute: check readiness from inside the deployment, record the result, tally it for the uptime view and
the availability objective (firstmile.sla), publish a metric."""

import time
from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness
from firstmile.health.store import dependency_checks
from firstmile.observability import metrics
from firstmile.sla.requests import probe_sample
from firstmile.sla.tallies import tally_samples


def probe(event: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    began = time.perf_counter()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    took_ms = (time.perf_counter() - began) * 1000
    container().probe_results.record(readiness)
    at_ms = int(readiness.checked_at.timestamp() * 1000)
    sample = probe_sample(readiness.status == "ok", took_ms, at_ms)
    # The run's instant is its token: a retried run of the same minute's probe is not counted twice.
    container().request_tallies.add(tally_samples([sample]), token=f"probe:{at_ms}")
    metrics.add_metric(name="ProbeSuccess", unit="Count", value=1 if readiness.status == "ok" else 0)
    return {"status": readiness.status, "failed": readiness.failed}


lambda_handler = entrypoints.job(probe)
