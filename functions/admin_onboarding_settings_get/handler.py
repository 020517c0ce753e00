"""GET /v1/admin/onboarding/settings: the tenant's onboarding settings (the idle window that counts users dropped)."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import OnboardingSettings

app = create_app()


@app.get(
    "/v1/admin/onboarding/settings",
    summary="Onboarding settings",
    tags=["onboarding admin"],
    responses=problem_responses(401, 403),
)
def get_settings() -> OnboardingSettings:
    caller = require_caller(app.current_event.raw_event)
    return container().idle_users.settings(caller.tenant)


lambda_handler = entrypoints.http(app)
