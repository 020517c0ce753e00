"""POST /v1/onboarding/complete: finish the caller's onboarding once every required step is done."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from firstmile import entrypoints
from firstmile.http.auth import require_caller
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.http import expected_version, versioned_response
from firstmile.onboarding.models import OnboardingStatus
from firstmile.onboarding.runtime import onboarding_service

app = create_app()


@app.post(
    "/v1/onboarding/complete",
    summary="Complete the onboarding",
    description="Refused (409) while a required step is still open.",
    tags=["onboarding"],
    responses=problem_responses(400, 401, 403, 404, 409, 422, 429, 503),
)
def onboarding_complete() -> Response[OnboardingStatus]:
    # No body: whatever a client sends (nothing, or {}) is ignored, though an Idempotency-Key replay compares it.
    caller = require_caller(app.current_event.raw_event)
    expected = expected_version(app)

    def produce() -> Response[Any]:
        status, version = onboarding_service().complete(caller.tenant, caller.subject, expected)
        return versioned_response(status, version)

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
