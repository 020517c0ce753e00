"""GET /v1/admin/onboarding/flows/{flow_id}: a flow's draft, with the ETag to edit it by."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response
from firstmile.onboarding.models import FLOW_ID_PATTERN, FlowDraft

app = create_app()


@app.get(
    "/v1/admin/onboarding/flows/<flow_id>",
    summary="Read an onboarding flow's draft",
    tags=["onboarding admin"],
    responses=problem_responses(
        401, 403, 404, ok_description="The draft; ETag carries its edit version", ok_headers=("ETag",)
    ),
)
def get_flow(flow_id: Annotated[str, Path(pattern=FLOW_ID_PATTERN)]) -> Response[FlowDraft]:
    caller = require_caller(app.current_event.raw_event)
    draft = container().flows.get_flow(caller.tenant, flow_id)
    return versioned_response(draft, draft.version)


lambda_handler = entrypoints.http(app)
