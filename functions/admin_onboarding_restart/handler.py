"""POST /v1/admin/onboarding/users/{user_id}/restart: start a user's onboarding over (after they skipped it, say).

The body is optional: without one the user restarts on the latest version of the tenant's default flow.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response
from firstmile.identity.models import USER_ID_PATTERN
from firstmile.onboarding.models import OnboardingStatus, RestartRequest

app = create_app()


@app.post(
    "/v1/admin/onboarding/users/<user_id>/restart",
    summary="Restart a user's onboarding",
    description="Starts a user's onboarding over. 404 RES_FLOW_NOT_FOUND for a flow the tenant does not have, "
    "RES_ONBOARDING_NOT_FOUND for a user who never enrolled (their first status call enrols them); 409 "
    "BIZ_NO_DEFAULT_FLOW / BIZ_FLOW_NOT_PUBLISHED, or the same request still in progress.",
    tags=["onboarding admin"],
    responses=problem_responses(
        400,
        401,
        403,
        404,
        409,
        ok_description="The user's new status and its ETag",
        ok_headers=("ETag", "Idempotent-Replayed"),
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def restart_user(
    user_id: Annotated[str, Path(pattern=USER_ID_PATTERN)],
    request: Annotated[RestartRequest | None, Body()] = None,
) -> Response[OnboardingStatus]:
    caller = require_caller(app.current_event.raw_event)
    restart = request or RestartRequest()

    def produce() -> Response[Any]:
        status, version = container().flows.restart_user(
            caller.tenant, user_id, restart, actor=f"admin:{caller.subject}"
        )
        return versioned_response(status, version)

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
