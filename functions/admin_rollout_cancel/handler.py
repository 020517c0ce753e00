"""DELETE /v1/admin/feature-flags/{key}/rollout: stop a rollout where it stands (the rule keeps its percentage)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FLAG_KEY_PATTERN
from firstmile.flags.rollout import RolloutPlan
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.delete(
    "/v1/admin/feature-flags/<key>/rollout",
    summary="Cancel a rollout",
    tags=["flags admin"],
    responses=problem_responses(401, 403, 404, 409),
)
def cancel_rollout(key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)]) -> RolloutPlan:
    caller = require_caller(app.current_event.raw_event)
    return container().rollouts.cancel_plan(caller.tenant, key, actor=f"admin:{caller.subject}")


lambda_handler = entrypoints.http(app)
