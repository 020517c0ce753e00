"""POST /v1/onboarding/step: start, complete or skip one step of the caller's onboarding."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.progress import PROGRESS_CHANGE_PROBLEMS, change_progress
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import OnboardingStatus, StepCommand

app = create_app()


@app.post(
    "/v1/onboarding/step",
    summary="Start, complete or skip a step",
    description=(
        "With If-Match, the change is made only on that progress version (409 with the current status otherwise); "
        "without it, a concurrent change is retried. An Idempotency-Key replay returns the first answer."
    ),
    tags=["onboarding"],
    responses=problem_responses(*PROGRESS_CHANGE_PROBLEMS, ok_headers=("ETag", "Idempotent-Replayed")),
    openapi_extensions=request_headers("If-Match", "Idempotency-Key"),
)
def onboarding_step(command: Annotated[StepCommand, Body()]) -> Response[OnboardingStatus]:
    return change_progress(
        app,
        lambda service, tenant, user, expected, attributes: service.step(
            tenant, user, command, expected, attributes=attributes
        ),
    )


lambda_handler = entrypoints.http(app)
