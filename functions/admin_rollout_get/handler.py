"""GET /v1/admin/feature-flags/{key}/rollout: a flag's rollout plan, where it stands, and its guard's last reading."""

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


@app.get(
    "/v1/admin/feature-flags/<key>/rollout",
    summary="A flag's rollout plan",
    tags=["flags admin"],
    responses=problem_responses(401, 403, 404),
)
def get_rollout(key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)]) -> RolloutPlan:
    caller = require_caller(app.current_event.raw_event)
    return container().rollouts.get_plan(caller.tenant, key)


lambda_handler = entrypoints.http(app)
