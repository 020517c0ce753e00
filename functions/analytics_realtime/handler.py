"""GET /v1/onboarding/analytics/realtime: the last 24 hours' users and what they have done since, read at most
every 5 minutes per function instance; ``Age`` and ``real_time.last_updated`` say how old the figures are
(decision 0070)."""

import math
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.analytics.reports import REALTIME_CACHE_SECONDS
from firstmile.analytics.shapes import RealtimeParams, RealtimeReport
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/onboarding/analytics/realtime",
    summary="The last 24 hours",
    tags=["analytics"],
    responses=problem_responses(401, 403, 404, 409, 422, ok_headers=("Age", "Cache-Control")),
)
def realtime(params: Annotated[RealtimeParams, Query()]) -> Response[RealtimeReport]:
    caller = require_caller(app.current_event.raw_event)
    report, age = container().analytics_reports.realtime(caller.tenant, params.flow, params.version)
    fresh_for = max(REALTIME_CACHE_SECONDS - math.ceil(age), 0)
    headers = {"Age": str(math.floor(age)), "Cache-Control": f"private, max-age={fresh_for}"}
    return Response(200, "application/json", report.model_dump(mode="json"), headers=headers)


lambda_handler = entrypoints.http(app)
