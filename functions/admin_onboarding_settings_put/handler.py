"""PUT /v1/admin/onboarding/settings: replace the tenant's onboarding settings (audited)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import OnboardingSettings

app = create_app()


@app.put(
    "/v1/admin/onboarding/settings",
    summary="Set the onboarding settings",
    tags=["onboarding admin"],
    responses=problem_responses(401, 403),
)
def put_settings(settings: Annotated[OnboardingSettings, Body()]) -> OnboardingSettings:
    caller = require_caller(app.current_event.raw_event)
    return container().idle_users.set_settings(caller.tenant, settings, actor=f"admin:{caller.subject}")


lambda_handler = entrypoints.http(app)
