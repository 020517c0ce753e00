"""GET /health: version, commit and component states; latencies and reasons only for operators."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness, summarize
from firstmile.health.models import HealthSummary
from firstmile.health.store import dependency_checks
from firstmile.http.headers import header
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.identity.authorizer import optional_claims

app = create_app()


@app.get("/health", summary="Health summary", tags=["health"], responses=problem_responses())
def health() -> HealthSummary:
    settings = get_settings()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    # A public route: no authorizer runs, so an operator's token is verified here to unlock the detail.
    caller = optional_claims(
        header(app.current_event.headers, "authorization"),
        verifier=container().token_verifier,
        revocations=container().revocation_cache,
    )
    return summarize(
        readiness,
        version=settings.version,
        commit=settings.commit,
        stage=settings.stage,
        full_detail=caller is not None and "operator" in caller.roles,
    )


lambda_handler = entrypoints.http(app)
