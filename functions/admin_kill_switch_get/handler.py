"""GET /v1/admin/kill-switch: what is killed in the tenant now, and who changed it last."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.shapes import KillSwitchState
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/admin/kill-switch", summary="The kill switch", tags=["flags admin"], responses=problem_responses(401, 403)
)
def kill_switch() -> KillSwitchState:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_controls.kill_switch(caller.tenant)


lambda_handler = entrypoints.http(app)
