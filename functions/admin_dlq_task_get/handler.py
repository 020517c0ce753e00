"""GET /v1/admin/dlq/tasks/{task_id}: one dead-letter task with its traceback, redacted payload and history."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.failures.service import TaskCaller
from firstmile.failures.tasks import TASK_ID_PATTERN, DeadLetterTaskDetail
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/admin/dlq/tasks/<task_id>",
    summary="Read a dead-letter task",
    tags=["failures"],
    responses=problem_responses(401, 403, 404, 422),
)
def get_task(task_id: Annotated[str, Path(pattern=TASK_ID_PATTERN)]) -> DeadLetterTaskDetail:
    auth = require_caller(app.current_event.raw_event)
    return container().dead_letters.get(TaskCaller.of(auth.tenant, auth.subject, auth.roles).scope, task_id)


lambda_handler = entrypoints.http(app)
