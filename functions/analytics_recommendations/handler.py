"""GET /v1/onboarding/analytics/recommendations: what to try, from a funnel's own figures (decision 0070)."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.analytics.reports import report_query
from firstmile.analytics.shapes import RecommendationsReport, ReportParams
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/onboarding/analytics/recommendations",
    summary="Recommendations from a funnel",
    tags=["analytics"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def recommendations(
    params: Annotated[ReportParams, Query()],
    priority: Annotated[Literal["high", "medium", "low"] | None, Query()] = None,
) -> RecommendationsReport:
    caller = require_caller(app.current_event.raw_event)
    reports = container().analytics_reports
    return reports.recommendations(caller.tenant, report_query(params, today=reports.today()), priority)


lambda_handler = entrypoints.http(app)
