"""GET /health/startup: the function could load its configuration."""

from firstmile import entrypoints
from firstmile.config import Settings
from firstmile.health.logic import check_startup
from firstmile.health.models import Startup
from firstmile.http import problems as p
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get("/health/startup", summary="Startup checks", tags=["health"], responses=problem_responses(503))
def startup() -> Startup:
    # A fresh read, not the cached settings: this answers whether the configuration is valid now.
    result = check_startup(Settings.from_environment)
    if result.status == "failed":
        failed = [c for c in result.checks if c.status == "failed"]
        raise p.Problem(
            p.SYS_UNAVAILABLE,
            "Startup checks failed: " + ", ".join(c.name for c in failed),
            extensions={"checks": [c.model_dump() for c in result.checks]},
        )
    return result


lambda_handler = entrypoints.http(app)
