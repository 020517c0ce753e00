"""GET /v1/sla/health: every dependency and circuit breaker now, the synthetic probe's last run and the last day's
uptime (operators; decision 0101). Always 200: the answer says what is wrong."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.health.logic import breaker_statuses, check_readiness
from firstmile.health.store import dependency_checks
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.sla.shapes import SlaHealth

app = create_app()


@app.get("/v1/sla/health", summary="Service health", tags=["sla"], responses=problem_responses(401, 403))
def health() -> SlaHealth:
    settings = get_settings()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    return container().sla_reports.health(readiness, breaker_statuses(), container().probe_results)


lambda_handler = entrypoints.http(app)
