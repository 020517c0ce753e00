"""POST /v1/onboarding/step: start, complete or skip one step of the caller's onboarding."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.http.auth import require_caller
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.http import expected_version, versioned_response
from firstmile.onboarding.models import OnboardingStatus, StepCommand
from firstmile.onboarding.runtime import onboarding_service

app = create_app()


@app.post(
    "/v1/onboarding/step",
    summary="Start, complete or skip a step",
    description=(
        "With If-Match, the change is made only on that progress version (409 with the current status otherwise); "
        "without it, a concurrent change is retried. An Idempotency-Key replay returns the first answer."
    ),
    tags=["onboarding"],
    responses=problem_responses(400, 401, 403, 404, 409, 422, 429, 503),
)
def onboarding_step(command: Annotated[StepCommand, Body()]) -> Response[OnboardingStatus]:
    caller = require_caller(app.current_event.raw_event)
    expected = expected_version(app)

    def produce() -> Response[Any]:
        status, version = onboarding_service().step(caller.tenant, caller.subject, command, expected)
        return versioned_response(status, version)

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
