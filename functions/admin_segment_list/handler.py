"""GET /v1/admin/segments: the tenant's segments in key order."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import Segment
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT, Page

app = create_app()


@app.get(
    "/v1/admin/segments", summary="List segments", tags=["flags admin"], responses=problem_responses(400, 401, 403)
)
def list_segments(
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Page[Segment]:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_controls.list_segments(caller.tenant, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
