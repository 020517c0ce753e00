"""POST /v1/flags/evaluate: the caller's flags, evaluated with the container's cached flag set."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.shapes import EvaluationAnswer, EvaluationRequest
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.post(
    "/v1/flags/evaluate",
    summary="Evaluate feature flags for the caller",
    description=(
        "All flags that are not archived, or the named ones. The context is the token's tenant, user and attributes "
        "plus the client attributes the tenant allows (PUT /v1/admin/flag-settings); the token's attributes win. "
        "Each result carries value, variant, reason, rule id and flag version. A killed flag serves its off value "
        "within 5 seconds of the kill."
    ),
    tags=["flags"],
    responses=problem_responses(400, 401, 403, 422, 503, ok_description="One result per flag"),
)
def evaluate(request: Annotated[EvaluationRequest, Body()]) -> EvaluationAnswer:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_evaluation.evaluate(caller.tenant, caller.subject, caller.attributes, request)


lambda_handler = entrypoints.http(app)
