"""GET /v1/operator/backups/drills/{drill_id}: one restore drill, its restore time and its comparison per kind."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.backups.models import Drill
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()
DRILL_ID = r"^drl_[0-9]{8}T[0-9]{9}_[0-9a-f]{6}$"


@app.get(
    "/v1/operator/backups/drills/<drill_id>",
    summary="A restore drill",
    tags=["backups"],
    responses=problem_responses(401, 403, 404, 422),
)
def drill(drill_id: Annotated[str, Path(pattern=DRILL_ID)]) -> Drill:
    return container().restore_drills.get(drill_id)


lambda_handler = entrypoints.http(app)
