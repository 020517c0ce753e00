"""POST /v1/admin/compliance/policies: publish a privacy-policy or terms version; it is current at once, and every
user who accepted an older one gets ``needs_reconsent: true`` in their status within 30 seconds."""

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
from firstmile.privacy.policies import PolicyPublish, PolicyVersion

app = create_app()


@app.post(
    "/v1/admin/compliance/policies",
    summary="Publish a policy version",
    description="Versions are immutable: publishing a version of a type again answers 409 RES_POLICY_VERSION_EXISTS. "
    "Audited.",
    tags=["compliance"],
    responses=problem_responses(
        400, 401, 403, 409, 422, ok=201, ok_description="Published", ok_headers=("Idempotent-Replayed",)
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def publish_policy(policy: Annotated[PolicyPublish, Body()]) -> Response[PolicyVersion]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        published = container().policy_versions.publish(caller.tenant, policy, actor=f"admin:{caller.subject}")
        return Response(201, "application/json", published.model_dump(mode="json"))

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
