"""GET /v1/compliance/policies: the tenant's current privacy-policy and terms versions, and every version published,
newest first; a user whose status says ``needs_reconsent`` is shown the current ones to accept."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.policies import Policies

app = create_app()


@app.get(
    "/v1/compliance/policies",
    summary="Privacy policy and terms versions",
    tags=["compliance"],
    responses=problem_responses(401, 403),
)
def get_policies() -> Policies:
    caller = require_caller(app.current_event.raw_event)
    return container().policy_versions.policies(caller.tenant)


lambda_handler = entrypoints.http(app)
