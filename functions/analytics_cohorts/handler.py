"""GET /v1/onboarding/analytics/cohort-comparison: weekly enrolment cohorts and first-time against returning users
(decision 0070)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.analytics.reports import cohort_query
from firstmile.analytics.shapes import CohortParams, CohortReport
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/onboarding/analytics/cohort-comparison",
    summary="Weekly cohorts, first-time and returning users",
    tags=["analytics"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def cohorts(params: Annotated[CohortParams, Query()]) -> CohortReport:
    caller = require_caller(app.current_event.raw_event)
    reports = container().analytics_reports
    return reports.cohorts(caller.tenant, cohort_query(params, today=reports.today()))


lambda_handler = entrypoints.http(app)
