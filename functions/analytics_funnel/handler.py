"""GET /v1/onboarding/analytics/funnel: a flow's funnel over a period of enrolment days (decision 0070)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.analytics.reports import report_query
from firstmile.analytics.shapes import FunnelReport, ReportParams
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/onboarding/analytics/funnel",
    summary="A flow's funnel",
    tags=["analytics"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def funnel(params: Annotated[ReportParams, Query()]) -> FunnelReport:
    caller = require_caller(app.current_event.raw_event)
    reports = container().analytics_reports
    return reports.funnel(caller.tenant, report_query(params, today=reports.today()))


lambda_handler = entrypoints.http(app)
