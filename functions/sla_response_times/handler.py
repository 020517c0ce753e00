"""GET /v1/sla/response-times: response times over a window (operators; decision 0101)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.sla.shapes import ResponseTimes, WindowParams

app = create_app()


@app.get("/v1/sla/response-times", summary="Response times", tags=["sla"], responses=problem_responses(401, 403, 422))
def response_times(params: Annotated[WindowParams, Query()]) -> ResponseTimes:
    return container().sla_reports.response_times(params.window)


lambda_handler = entrypoints.http(app)
