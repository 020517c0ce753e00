"""POST /v1/onboarding/mark-sample-workflow: the caller reached the sample-workflow milestone."""

from aws_lambda_powertools.event_handler import Response

from firstmile import entrypoints
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.progress import PROGRESS_CHANGE_PROBLEMS, change_progress
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import Milestone, OnboardingStatus

app = create_app()


@app.post(
    "/v1/onboarding/mark-sample-workflow",
    summary="Record the sample workflow milestone",
    description="The caller created the sample workflow; steps completed by this milestone complete with it.",
    tags=["onboarding"],
    responses=problem_responses(*PROGRESS_CHANGE_PROBLEMS, ok_headers=("ETag", "Idempotent-Replayed")),
    openapi_extensions=request_headers("If-Match", "Idempotency-Key"),
)
def onboarding_mark_sample_workflow() -> Response[OnboardingStatus]:
    # No body: whatever a client sends (nothing, or {}) is ignored, though an Idempotency-Key replay compares it.
    return change_progress(
        app,
        lambda service, tenant, user, expected, attributes: service.milestone(
            tenant, user, Milestone.SAMPLE_WORKFLOW, expected, attributes=attributes
        ),
    )


lambda_handler = entrypoints.http(app)
