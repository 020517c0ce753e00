"""PUT /v1/admin/onboarding/default-flow: choose the flow new users are enrolled on (it must be published)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import DefaultFlow, DefaultFlowUpdate

app = create_app()


@app.put(
    "/v1/admin/onboarding/default-flow",
    summary="Set the default onboarding flow",
    tags=["onboarding admin"],
    # 404: no such flow; 409 BIZ_FLOW_NOT_PUBLISHED: it has no published version yet.
    responses=problem_responses(401, 403, 404, 409),
)
def set_default_flow(request: Annotated[DefaultFlowUpdate, Body()]) -> DefaultFlow:
    caller = require_caller(app.current_event.raw_event)
    return container().flows.set_default(caller.tenant, request, actor=f"admin:{caller.subject}")


lambda_handler = entrypoints.http(app)
