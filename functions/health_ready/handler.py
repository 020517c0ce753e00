"""GET /health/ready: every dependency answers; 503 naming the ones that do not. Both answers carry this container's
circuit breakers (decision 0092)."""

from firstmile import entrypoints
from firstmile.config import get_settings
from firstmile.health.logic import breaker_statuses, check_readiness
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
    readiness = readiness.model_copy(update={"breakers": breaker_statuses()})
    if readiness.status == "failed":
        raise p.Problem(
            p.SYS_UNAVAILABLE,
            "Not ready: " + ", ".join(readiness.failed),
            headers={"Retry-After": "5"},
            extensions={
                "components": [c.model_dump(mode="json") for c in readiness.components],
                "breakers": [b.model_dump(mode="json") for b in readiness.breakers],
            },
        )
    return readiness


lambda_handler = entrypoints.http(app)
