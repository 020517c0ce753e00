"""POST /v1/admin/dlq/tasks/{task_id}/retry: send a dead task's work back to its source (its queue, or its function
invoked again); answers ``queued``. The work succeeding removes the task; failing again brings it back with its
history. Audited."""

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


@app.post(
    "/v1/admin/dlq/tasks/<task_id>/retry",
    summary="Retry a dead-letter task",
    tags=["failures"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def retry_task(task_id: Annotated[str, Path(pattern=TASK_ID_PATTERN)]) -> TaskActionAnswer:
    auth = require_caller(app.current_event.raw_event)
    caller = TaskCaller.of(auth.tenant, auth.subject, auth.roles, logger.get_correlation_id() or "")
    return container().dead_letters.retry(caller, task_id)


lambda_handler = entrypoints.http(app)
