"""POST /v1/operator/backups: back the table up now (an on-demand backup, kept like the daily ones)."""

from firstmile import entrypoints
from firstmile.backups.models import Backup
from firstmile.clock import utc_now
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.post(
    "/v1/operator/backups",
    summary="Back up now",
    tags=["backups"],
    status_code=201,
    responses=problem_responses(401, 403, 503, ok=201, ok_description="The backup, made"),
)
def back_up() -> Backup:
    return container().backups.create(utc_now())


lambda_handler = entrypoints.http(app)
