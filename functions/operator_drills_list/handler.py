"""GET /v1/operator/backups/drills: the restore drills, newest first, each with its state and comparison."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.backups.models import DrillPage
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/operator/backups/drills",
    summary="Restore drills",
    tags=["backups"],
    responses=problem_responses(401, 403, 422),
)
def drills(limit: Annotated[int, Query(ge=1, le=52)] = 12) -> DrillPage:
    return DrillPage(drills=container().restore_drills.recent(limit))


lambda_handler = entrypoints.http(app)
