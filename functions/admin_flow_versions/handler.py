"""GET /v1/admin/onboarding/flows/{flow_id}/versions: a flow's published versions, newest first."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import FLOW_ID_PATTERN, FlowVersionSummary
from firstmile.platform.cursors import DEFAULT_LIMIT, Page

app = create_app()


@app.get(
    "/v1/admin/onboarding/flows/<flow_id>/versions",
    summary="List an onboarding flow's published versions",
    tags=["onboarding admin"],
    responses=problem_responses(400, 401, 403, 404),
)
def list_versions(
    flow_id: Annotated[str, Path(pattern=FLOW_ID_PATTERN)],
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Page[FlowVersionSummary]:
    caller = require_caller(app.current_event.raw_event)
    return container().flows.list_versions(caller.tenant, flow_id, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
