"""POST /v1/onboarding/skip: the caller skips the whole onboarding (an admin can restart it), optionally saying why."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.progress import PROGRESS_CHANGE_PROBLEMS, change_progress
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import OnboardingStatus, SkipRequest

app = create_app()


@app.post(
    "/v1/onboarding/skip",
    summary="Skip the onboarding",
    description=(
        "Skips the whole onboarding; an admin can restart it. The body is optional: a reason code says why "
        "(analytics counts it)."
    ),
    tags=["onboarding"],
    responses=problem_responses(*PROGRESS_CHANGE_PROBLEMS, ok_headers=("ETag", "Idempotent-Replayed")),
    openapi_extensions=request_headers("If-Match", "Idempotency-Key"),
)
def onboarding_skip(request: Annotated[SkipRequest | None, Body()] = None) -> Response[OnboardingStatus]:
    reason = request.reason if request else None
    return change_progress(
        app,
        lambda service, tenant, user, expected, attributes: service.skip(
            tenant, user, expected, attributes=attributes, reason=reason
        ),
    )


lambda_handler = entrypoints.http(app)
