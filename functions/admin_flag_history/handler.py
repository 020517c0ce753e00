"""GET /v1/admin/feature-flags/{key}/history: every version of a flag, newest first, each with its diff, and the
kill-switch changes that concerned it."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.history import FlagHistoryPage
from firstmile.flags.models import FLAG_KEY_PATTERN
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT

app = create_app()


@app.get(
    "/v1/admin/feature-flags/<key>/history",
    summary="A feature flag's history",
    tags=["flags admin"],
    responses=problem_responses(400, 401, 403, 404),
)
def flag_history(
    key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)],
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> FlagHistoryPage:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_admin.history(caller.tenant, key, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
