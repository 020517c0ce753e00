"""GET /v1/sla/breach-check: every objective's state over its 30 days, its burn rates and the budget left
(operators; decision 0101)."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.sla.shapes import BreachCheck

app = create_app()


@app.get(
    "/v1/sla/breach-check",
    summary="Objectives breached or burning",
    tags=["sla"],
    responses=problem_responses(401, 403),
)
def breach_check() -> BreachCheck:
    return container().sla_reports.breach_check()


lambda_handler = entrypoints.http(app)
