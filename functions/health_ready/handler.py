"""GET /health/ready: every dependency answers; 503 naming the ones that do not."""

from firstmile import entrypoints
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness
from firstmile.health.models import Readiness
from firstmile.health.store import dependency_checks
from firstmile.http import problems as p
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get("/health/ready", summary="Readiness", tags=["health"], responses=problem_responses(503))
def ready() -> Readiness:
    settings = get_settings()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    if readiness.status == "failed":
        raise p.Problem(
            p.SYS_UNAVAILABLE,
            "Not ready: " + ", ".join(readiness.failed),
            headers={"Retry-After": "5"},
            extensions={"components": [c.model_dump(mode="json") for c in readiness.components]},
        )
    return readiness


lambda_handler = entrypoints.http(app)
