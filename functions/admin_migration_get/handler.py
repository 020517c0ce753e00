"""GET /v1/admin/onboarding/migrations/{migration_id}: how far a migration has got."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import MIGRATION_ID_PATTERN, Migration

app = create_app()


@app.get(
    "/v1/admin/onboarding/migrations/<migration_id>",
    summary="Read a migration's progress",
    tags=["onboarding admin"],
    responses=problem_responses(401, 403, 404),
)
def get_migration(migration_id: Annotated[str, Path(pattern=MIGRATION_ID_PATTERN)]) -> Migration:
    caller = require_caller(app.current_event.raw_event)
    return container().migrations.get_migration(caller.tenant, migration_id)


lambda_handler = entrypoints.http(app)
