"""GET /v1/admin/dlq/tasks: dead-letter tasks oldest first, filtered by task, exception, age or state, with the
total over every page (operators: every task; admins: their tenant's)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.failures.service import TaskCaller
from firstmile.failures.tasks import TaskFilter, TaskPage, TaskState
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT

app = create_app()


@app.get(
    "/v1/admin/dlq/tasks",
    summary="List dead-letter tasks",
    tags=["failures"],
    responses=problem_responses(400, 401, 403, 422),
)
def list_tasks(
    task_name: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_:.-]+$")] = None,
    exception_type: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_.]+$")] = None,
    older_than_hours: Annotated[float | None, Query(ge=0, le=24 * 365)] = None,
    newer_than_hours: Annotated[float | None, Query(gt=0, le=24 * 365)] = None,
    state: Annotated[TaskState | None, Query()] = None,
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> TaskPage:
    auth = require_caller(app.current_event.raw_event)
    caller = TaskCaller.of(auth.tenant, auth.subject, auth.roles)
    criteria = TaskFilter(
        task_name=task_name,
        exception_type=exception_type,
        older_than_hours=older_than_hours,
        newer_than_hours=newer_than_hours,
        state=state,
    )
    return container().dead_letters.list(caller.scope, criteria, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
