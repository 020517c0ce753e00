"""GET /v1/operator/backups: the table's backups, newest first, and the point-in-time recovery window."""

from firstmile import entrypoints
from firstmile.backups.models import BackupList
from firstmile.clock import utc_now
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get("/v1/operator/backups", summary="Backups", tags=["backups"], responses=problem_responses(401, 403))
def backups() -> BackupList:
    return container().backups.list(utc_now())


lambda_handler = entrypoints.http(app)
