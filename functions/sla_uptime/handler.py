"""GET /v1/sla/uptime: the synthetic probe's uptime over a window (operators; decision 0101)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.sla.shapes import Uptime, WindowParams

app = create_app()


@app.get(
    "/v1/sla/uptime", summary="The synthetic probe's uptime", tags=["sla"], responses=problem_responses(401, 403, 422)
)
def uptime(params: Annotated[WindowParams, Query()]) -> Uptime:
    return container().sla_reports.uptime(params.window)


lambda_handler = entrypoints.http(app)
