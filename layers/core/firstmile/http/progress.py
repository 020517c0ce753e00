"""What the handlers that change a user's onboarding progress share: the ``If-Match`` they were sent, an
``Idempotency-Key`` replay, and responses that carry an ``ETag``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from firstmile.http.auth import require_caller
from firstmile.http.idempotency import idempotent
from firstmile.http.versioning import expected_version, versioned_response
from firstmile.onboarding.models import OnboardingStatus
from firstmile.onboarding.runtime import onboarding_service
from firstmile.onboarding.service import OnboardingService

ProgressChange = Callable[[OnboardingService, str, str, int | None], tuple[OnboardingStatus, int]]
"""A change of one user's progress: (service, tenant, user, expected version) -> (status, progress version)."""

# Every route that changes the caller's progress can answer these problems.
PROGRESS_CHANGE_PROBLEMS = (400, 401, 403, 404, 409, 422, 429, 503)


def change_progress(app: APIGatewayHttpResolver, change: ProgressChange) -> Response[Any]:
    """Apply ``change`` to the caller's own progress: ``If-Match`` honoured, an ``Idempotency-Key`` replay answered
    with the first response, the status answered with its ``ETag``."""
    caller = require_caller(app.current_event.raw_event)
    expected = expected_version(app)

    def produce() -> Response[Any]:
        status, version = change(
            onboarding_service().seen_as(caller.attributes), caller.tenant, caller.subject, expected
        )
        return versioned_response(status, version)

    return idempotent(app, produce)
