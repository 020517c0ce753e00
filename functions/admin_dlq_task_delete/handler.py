"""DELETE /v1/admin/dlq/tasks/{task_id}: delete a dead-letter task (its work is given up). Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.failures.service import TaskCaller
from firstmile.failures.tasks import TASK_ID_PATTERN, TaskActionAnswer
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.observability import logger

app = create_app()


@app.delete(
    "/v1/admin/dlq/tasks/<task_id>",
    summary="Delete a dead-letter task",
    tags=["failures"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def delete_task(task_id: Annotated[str, Path(pattern=TASK_ID_PATTERN)]) -> TaskActionAnswer:
    auth = require_caller(app.current_event.raw_event)
    caller = TaskCaller.of(auth.tenant, auth.subject, auth.roles, logger.get_correlation_id() or "")
    return container().dead_letters.delete(caller, task_id)


lambda_handler = entrypoints.http(app)
