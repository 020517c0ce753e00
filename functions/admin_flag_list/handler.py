"""GET /v1/admin/feature-flags: the tenant's flags in key order, archived ones included, each with whether the
kill switch holds it off."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.shapes import FlagView
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT, Page

app = create_app()


@app.get(
    "/v1/admin/feature-flags",
    summary="List feature flags",
    tags=["flags admin"],
    responses=problem_responses(400, 401, 403),
)
def list_flags(
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Page[FlagView]:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_admin.list_flags(caller.tenant, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
