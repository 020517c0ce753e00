"""GET /v1/admin/dlq/stats: the dead-letter tasks per function, exception and state, and the oldest one's age."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.failures.service import TaskCaller
from firstmile.failures.tasks import TaskStats
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/admin/dlq/stats",
    summary="Dead-letter statistics",
    tags=["failures"],
    responses=problem_responses(401, 403),
)
def task_stats() -> TaskStats:
    auth = require_caller(app.current_event.raw_event)
    return container().dead_letters.stats(TaskCaller.of(auth.tenant, auth.subject, auth.roles).scope)


lambda_handler = entrypoints.http(app)
