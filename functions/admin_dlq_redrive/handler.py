"""POST /v1/admin/dlq/redrive: send back the dead tasks a filter matches,
100 a call (``remaining`` says whether to call again); a dry run (the default) only counts and names them.
Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.failures.service import TaskCaller
from firstmile.failures.tasks import BulkAnswer, BulkRequest
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.observability import logger

app = create_app()


@app.post(
    "/v1/admin/dlq/redrive",
    summary="Redrive dead-letter tasks",
    tags=["failures"],
    responses=problem_responses(400, 401, 403, 422),
)
def redrive_tasks(request: Annotated[BulkRequest, Body()]) -> BulkAnswer:
    auth = require_caller(app.current_event.raw_event)
    caller = TaskCaller.of(auth.tenant, auth.subject, auth.roles, logger.get_correlation_id() or "")
    return container().dead_letters.redrive(caller, request)


lambda_handler = entrypoints.http(app)
