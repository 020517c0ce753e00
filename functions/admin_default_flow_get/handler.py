"""GET /v1/admin/onboarding/default-flow: the flow new users of the tenant are enrolled on."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import DefaultFlow

app = create_app()


@app.get(
    "/v1/admin/onboarding/default-flow",
    summary="Read the default onboarding flow",
    tags=["onboarding admin"],
    # 409 BIZ_NO_DEFAULT_FLOW: the tenant has not chosen one yet.
    responses=problem_responses(401, 403, 409),
)
def get_default_flow() -> DefaultFlow:
    caller = require_caller(app.current_event.raw_event)
    return container().flows.get_default(caller.tenant)


lambda_handler = entrypoints.http(app)
