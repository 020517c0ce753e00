"""POST /v1/admin/onboarding/sample-users: demo users that walk the real state machine, tagged sample, removed by
TTL, so a new tenant sees a realistic picture."""

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
from firstmile.onboarding.models import SampleUsersCreated, SampleUsersRequest

app = create_app()


@app.post(
    "/v1/admin/onboarding/sample-users",
    summary="Generate sample users",
    tags=["onboarding admin"],
    # 404: no such flow; 409 BIZ_NO_DEFAULT_FLOW / BIZ_FLOW_NOT_PUBLISHED, or the same request still in progress.
    responses=problem_responses(
        400, 401, 403, 404, 409, ok=201, ok_description="Created: the sample users", ok_headers=("Idempotent-Replayed",)
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def create_sample_users(request: Annotated[SampleUsersRequest, Body()]) -> Response[SampleUsersCreated]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        created = container().sample_users.create(caller.tenant, request, actor=f"admin:{caller.subject}")
        return Response(201, "application/json", created.model_dump(mode="json"))

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
