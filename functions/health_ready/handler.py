"""GET /health/ready: every dependency answers; 503 naming the ones that do not. Both answers carry this container's
circuit breakers (decision 0092)."""

from firstmile import entrypoints
from firstmile.config import get_settings
from firstmile.health.logic import check_readiness
from firstmile.health.models import BreakerStatus, Readiness
from firstmile.health.store import dependency_checks
from firstmile.http import problems as p
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get("/health/ready", summary="Readiness", tags=["health"], responses=problem_responses(503))
def ready() -> Readiness:
    settings = get_settings()
    readiness = check_readiness(dependency_checks(settings), settings.dependency_timeout_seconds)
    readiness = readiness.model_copy(update={"breakers": breakers()})
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


def breakers() -> list[BreakerStatus]:
    from firstmile.platform.resilience import breaker_states

    return [BreakerStatus.model_validate({**vars(b), "dependency": b.service}) for b in breaker_states()]


lambda_handler = entrypoints.http(app)
