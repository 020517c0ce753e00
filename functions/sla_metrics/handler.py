"""GET /v1/sla/metrics: uptime, response times, error rate and every objective over a window (operators;
decision 0101)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.sla.shapes import SlaMetrics, WindowParams

app = create_app()


@app.get(
    "/v1/sla/metrics",
    summary="Uptime, response times, error rate and every objective",
    tags=["sla"],
    responses=problem_responses(401, 403, 422),
)
def metrics(params: Annotated[WindowParams, Query()]) -> SlaMetrics:
    return container().sla_reports.metrics(params.window)


lambda_handler = entrypoints.http(app)
