"""POST /v1/operator/backups/drills: start a restore drill of the newest backup now; the scheduled runs carry it on
(decision 0104). 409 while another drill runs, or before any backup exists."""

from firstmile import entrypoints
from firstmile.backups.models import Drill
from firstmile.clock import utc_now
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.post(
    "/v1/operator/backups/drills",
    summary="Start a restore drill",
    tags=["backups"],
    status_code=202,
    responses=problem_responses(401, 403, 409, 503, ok=202, ok_description="Started; the scheduled runs carry it on"),
)
def start() -> Drill:
    caller = require_caller(app.current_event.raw_event)
    return container().restore_drills.start(utc_now(), by=caller.subject)


lambda_handler = entrypoints.http(app)
