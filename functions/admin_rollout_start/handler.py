"""PUT /v1/admin/feature-flags/{key}/rollout: start a progressive rollout of one rule (steps, dwell, guard)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FLAG_KEY_PATTERN
from firstmile.flags.rollout import RolloutPlan, RolloutPlanRequest
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.put(
    "/v1/admin/feature-flags/<key>/rollout",
    summary="Start a progressive rollout",
    description="The rule moves to the first step's percentage at once; a job checks the plan every minute, "
    "advances it after each step's dwell, and halts it (restoring the rule's percentage, with an audit entry and "
    "an alarm) when the guard sees users in the rollout convert worse than users out of it.",
    tags=["flags admin"],
    responses=problem_responses(400, 401, 403, 404, 409, 422, ok=201, ok_description="The started plan"),
)
def start_rollout(
    key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)], request: Annotated[RolloutPlanRequest, Body()]
) -> Response[RolloutPlan]:
    caller = require_caller(app.current_event.raw_event)
    plan = container().rollouts.start_plan(caller.tenant, key, request, actor=f"admin:{caller.subject}")
    return Response(201, "application/json", plan.model_dump(mode="json"))


lambda_handler = entrypoints.http(app)
