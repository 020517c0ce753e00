"""POST /v1/admin/onboarding/flows: create a draft flow; answers its first ETag and where it lives."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response
from firstmile.onboarding.models import FlowCreate, FlowDraft

app = create_app()


@app.post(
    "/v1/admin/onboarding/flows",
    summary="Create an onboarding flow",
    tags=["onboarding admin"],
    responses=problem_responses(
        400,
        401,
        403,
        409,
        ok=201,
        ok_description="Created: the draft, its ETag and its Location",
        ok_headers=("ETag", "Location", "Idempotent-Replayed"),
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def create_flow(request: Annotated[FlowCreate, Body()]) -> Response[FlowDraft]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        draft = container().flows.create_flow(caller.tenant, request, actor=f"admin:{caller.subject}")
        response = versioned_response(draft, draft.version, 201)
        response.headers["Location"] = f"/v1/admin/onboarding/flows/{draft.flow_id}"
        return response

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
