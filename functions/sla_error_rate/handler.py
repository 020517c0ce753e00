"""GET /v1/sla/error-rate: error rate over a window (operators; decision 0101)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.sla.shapes import ErrorRate, WindowParams

app = create_app()


@app.get("/v1/sla/error-rate", summary="Error rate", tags=["sla"], responses=problem_responses(401, 403, 422))
def error_rate(params: Annotated[WindowParams, Query()]) -> ErrorRate:
    return container().sla_reports.error_rate(params.window)


lambda_handler = entrypoints.http(app)
