"""GET /v1/onboarding/sample-workflow: the sample workflow and agent configuration of the caller's flow version."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import SampleConfiguration

app = create_app()


@app.get(
    "/v1/onboarding/sample-workflow",
    summary="Sample configuration",
    description="What the product creates the caller's sample data from: that of the flow version they are on.",
    tags=["onboarding"],
    responses=problem_responses(401, 403, 404, 409, 503),
)
def onboarding_sample_workflow() -> SampleConfiguration:
    caller = require_caller(app.current_event.raw_event)
    return container().progress.sample_configuration(caller.tenant, caller.subject)


lambda_handler = entrypoints.http(app)
