"""GET /v1/admin/feature-flags/{key}/exposures: sampled exposure counts per day and variant, with estimates."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.exposures import MAX_EXPOSURE_DAYS
from firstmile.flags.models import FLAG_KEY_PATTERN
from firstmile.flags.shapes import ExposureReport
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/admin/feature-flags/<key>/exposures",
    summary="A flag's exposures",
    tags=["flags admin"],
    responses=problem_responses(401, 403, 404),
)
def flag_exposures(
    key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)],
    days: Annotated[int, Query(ge=1, le=MAX_EXPOSURE_DAYS)] = 7,
) -> ExposureReport:
    caller = require_caller(app.current_event.raw_event)
    return container().exposures.report(caller.tenant, key, days)


lambda_handler = entrypoints.http(app)
