"""GET /health: version, commit and component states; latencies and reasons only for operators."""

from firstmile import entrypoints
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness, summarize
from firstmile.health.models import HealthSummary
from firstmile.health.store import dependency_checks
from firstmile.http.auth import auth_from_event
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get("/health", summary="Health summary", tags=["health"], responses=problem_responses())
def health() -> HealthSummary:
    settings = get_settings()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    caller = auth_from_event(app.current_event.raw_event)
    return summarize(
        readiness,
        version=settings.version,
        commit=settings.commit,
        stage=settings.stage,
        full_detail=caller is not None and caller.has_role("operator"),
    )


lambda_handler = entrypoints.http(app)
