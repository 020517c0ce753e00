"""Every minute: check readiness from inside the deployment, record the result, tally it for the uptime view and
the availability objective (firstmile.sla), publish a metric."""

import time
import uuid
from typing import Any

from firstmile import entrypoints
from firstmile.clock import utc_now
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness
from firstmile.health.store import dependency_checks
from firstmile.observability import logger, metrics
from firstmile.sla.objectives import BACKUP_AUDIENCE
from firstmile.sla.requests import RequestSample, emit, probe_sample
from firstmile.sla.tallies import tally_samples


def probe(event: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    began = time.perf_counter()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    took_ms = (time.perf_counter() - began) * 1000
    container().probe_results.record(readiness)
    at_ms = int(readiness.checked_at.timestamp() * 1000)
    sample = probe_sample(readiness.status == "ok", took_ms, at_ms)
    # The run's own token: the same run's tally added twice (a retried transaction) counts once; a retried run checks
    # readiness again, and is counted as the run it is. (Its instant would not do: two runs can share a millisecond.)
    container().request_tallies.add(tally_samples([sample]), token=f"probe:{at_ms}:{uuid.uuid4().hex}")
    metrics.add_metric(name="ProbeSuccess", unit="Count", value=1 if readiness.status == "ok" else 0)
    fresh = _backup_is_fresh()
    return {"status": readiness.status, "failed": readiness.failed, "backup_fresh": fresh}


def _backup_is_fresh() -> bool:
    """Whether a backup younger than 26 hours exists, written as a record for the backup-freshness objective (its
    log line reaches the tallies and CloudWatch as a request's does). A failed check counts as not fresh."""
    began = time.perf_counter()
    try:
        fresh = container().backups.fresh(utc_now())
    except Exception:
        logger.warning("the newest backup could not be checked", exc_info=True)
        fresh = False
    took_ms = (time.perf_counter() - began) * 1000
    emit(RequestSample(BACKUP_ROUTE, BACKUP_AUDIENCE, 200 if fresh else 503, took_ms, int(time.time() * 1000)))
    return fresh


BACKUP_ROUTE = "PROBE backups"


lambda_handler = entrypoints.job(probe)
