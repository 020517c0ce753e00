"""GET /health/live: the process is up. Touches nothing, so it answers even when dependencies are down."""

from firstmile import entrypoints
from firstmile.health.models import Liveness
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get("/health/live", summary="Liveness", tags=["health"], responses=problem_responses())
def live() -> Liveness:
    return Liveness()


lambda_handler = entrypoints.http(app)
