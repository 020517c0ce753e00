"""GET /v1/onboarding/status: the caller's onboarding; their first call enrols them on the tenant's default flow."""

from aws_lambda_powertools.event_handler import Response

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response
from firstmile.onboarding.models import OnboardingStatus

app = create_app()


@app.get(
    "/v1/onboarding/status",
    summary="Onboarding status",
    description="The first call enrols the caller on the tenant's default flow. The ETag is the progress version.",
    tags=["onboarding"],
    responses=problem_responses(401, 403, 404, 409, 503, ok_headers=("ETag",)),
)
def onboarding_status() -> Response[OnboardingStatus]:
    caller = require_caller(app.current_event.raw_event)
    status, version = container().progress.status(caller.tenant, caller.subject, attributes=caller.attributes)
    return versioned_response(status, version)


lambda_handler = entrypoints.http(app)
