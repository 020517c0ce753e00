"""GET /v1/onboarding/analytics/drop-off-heatmap: where and when users stop, and why (decision 0070)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.analytics.reports import report_query
from firstmile.analytics.shapes import HeatmapParams, HeatmapReport
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/onboarding/analytics/drop-off-heatmap",
    summary="Drop-offs by step and day or hour",
    tags=["analytics"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def heatmap(params: Annotated[HeatmapParams, Query()]) -> HeatmapReport:
    caller = require_caller(app.current_event.raw_event)
    reports = container().analytics_reports
    return reports.heatmap(caller.tenant, report_query(params, today=reports.today()), params.granularity)


lambda_handler = entrypoints.http(app)
