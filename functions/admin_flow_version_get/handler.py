"""GET /v1/admin/onboarding/flows/{flow_id}/versions/{version}: one published (immutable) version of a flow."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import FLOW_ID_PATTERN, FlowVersion

app = create_app()


@app.get(
    "/v1/admin/onboarding/flows/<flow_id>/versions/<version>",
    summary="Read a published version of an onboarding flow",
    tags=["onboarding admin"],
    responses=problem_responses(401, 403, 404),
)
def get_version(
    flow_id: Annotated[str, Path(pattern=FLOW_ID_PATTERN)], version: Annotated[int, Path(ge=1)]
) -> FlowVersion:
    caller = require_caller(app.current_event.raw_event)
    return container().flows.get_version(caller.tenant, flow_id, version)


lambda_handler = entrypoints.http(app)
