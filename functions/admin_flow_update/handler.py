"""PUT /v1/admin/onboarding/flows/{flow_id}: replace a flow's draft; ``If-Match`` (required) guards against lost
edits."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import required_version, versioned_response
from firstmile.onboarding.models import FLOW_ID_PATTERN, FlowDefinition, FlowDraft

app = create_app()


@app.put(
    "/v1/admin/onboarding/flows/<flow_id>",
    summary="Edit an onboarding flow's draft",
    description="Edits a flow's draft from the version named in If-Match (its ETag). 409 with the current draft when "
    "another edit came first; 428 RES_PRECONDITION_REQUIRED without If-Match.",
    tags=["onboarding admin"],
    responses=problem_responses(
        400, 401, 403, 404, 409, 428, ok_description="The edited draft and its new ETag", ok_headers=("ETag",)
    ),
    openapi_extensions=request_headers("If-Match"),
)
def update_flow(
    flow_id: Annotated[str, Path(pattern=FLOW_ID_PATTERN)], definition: Annotated[FlowDefinition, Body()]
) -> Response[FlowDraft]:
    caller = require_caller(app.current_event.raw_event)
    draft = container().flows.update_flow(
        caller.tenant, flow_id, definition, required_version(app, "draft"), actor=f"admin:{caller.subject}"
    )
    return versioned_response(draft, draft.version)


lambda_handler = entrypoints.http(app)
