"""POST /v1/admin/onboarding/flows/{flow_id}/publish: snapshot the draft as the next immutable, numbered version.

``If-Match`` (the draft's ETag) makes sure what is published is the draft the admin last saw.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import expected_version
from firstmile.onboarding.models import FLOW_ID_PATTERN, FlowVersion

app = create_app()


@app.post(
    "/v1/admin/onboarding/flows/<flow_id>/publish",
    summary="Publish an onboarding flow",
    tags=["onboarding admin"],
    responses=problem_responses(
        400,
        401,
        403,
        404,
        409,
        ok=201,
        ok_description="Published: the new version and its Location",
        ok_headers=("Location", "Idempotent-Replayed"),
    ),
    openapi_extensions=request_headers("If-Match", "Idempotency-Key"),
)
def publish_flow(flow_id: Annotated[str, Path(pattern=FLOW_ID_PATTERN)]) -> Response[FlowVersion]:
    caller = require_caller(app.current_event.raw_event)
    expected = expected_version(app)

    def produce() -> Response[Any]:
        published = container().flows.publish(caller.tenant, flow_id, expected, actor=f"admin:{caller.subject}")
        location = f"/v1/admin/onboarding/flows/{published.flow_id}/versions/{published.version}"
        return Response(201, "application/json", published.model_dump(mode="json"), headers={"Location": location})

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
