"""What the handlers that change a user's onboarding progress share: the ``If-Match`` they were sent, an
``Idempotency-Key`` replay, and responses that carry an ``ETag``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.idempotency import idempotent
from firstmile.http.versioning import expected_version, versioned_response
from firstmile.onboarding.models import OnboardingStatus

if TYPE_CHECKING:
    from firstmile.onboarding.progress import ProgressService

ProgressChange = Callable[["ProgressService", str, str, int | None, Mapping[str, str]], tuple[OnboardingStatus, int]]
"""A change of one user's progress: (service, tenant, user, expected version, the caller's token attributes) ->
(status, progress version)."""

# Every route that changes the caller's progress can answer these problems.
PROGRESS_CHANGE_PROBLEMS = (400, 401, 403, 404, 409, 422, 429, 503)


def change_progress(app: APIGatewayHttpResolver, change: ProgressChange) -> Response[Any]:
    """Apply ``change`` to the caller's own progress: ``If-Match`` honoured, an ``Idempotency-Key`` replay answered
    with the first response, the status answered with its ``ETag``."""
    caller = require_caller(app.current_event.raw_event)
    expected = expected_version(app)

    def produce() -> Response[Any]:
        status, version = change(container().progress, caller.tenant, caller.subject, expected, caller.attributes)
        return versioned_response(status, version)

    return idempotent(app, produce)
