"""GET /v1/admin/onboarding/flows: the caller's tenant's flows (their drafts), in flow-id order."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import FlowDraft
from firstmile.platform.cursors import DEFAULT_LIMIT, Page

app = create_app()


@app.get(
    "/v1/admin/onboarding/flows",
    summary="List onboarding flows",
    tags=["onboarding admin"],
    responses=problem_responses(400, 401, 403),
)
def list_flows(
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Page[FlowDraft]:
    caller = require_caller(app.current_event.raw_event)
    return container().flows.list_flows(caller.tenant, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
