"""GET /v1/onboarding/analytics/comparison: a period's funnel against an earlier one, the trend decided by a
two-proportion significance test (decision 0070)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.analytics.reports import compared_query, report_query
from firstmile.analytics.shapes import ComparisonParams, ComparisonReport
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/onboarding/analytics/comparison",
    summary="Two periods compared",
    tags=["analytics"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def comparison(params: Annotated[ComparisonParams, Query()]) -> ComparisonReport:
    caller = require_caller(app.current_event.raw_event)
    reports = container().analytics_reports
    looked_at = report_query(params, today=reports.today())
    return reports.comparison(caller.tenant, compared_query(params, looked_at), looked_at)


lambda_handler = entrypoints.http(app)
