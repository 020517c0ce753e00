"""POST /v1/admin/kill-switch: kill (or revive) one flag, every flag with a tag, or every flag of the tenant."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.shapes import KillSwitchChange, KillSwitchState
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.post(
    "/v1/admin/kill-switch",
    summary="Kill or revive flags",
    description="Once answered, every evaluation of the killed flags (this API and in-process) serves their off "
    "value with reason DISABLED within 5 seconds. Concurrent kills of different flags all hold.",
    tags=["flags admin"],
    responses=problem_responses(400, 401, 403, 404, ok_description="The kill switch's new state"),
)
def change_kill_switch(change: Annotated[KillSwitchChange, Body()]) -> KillSwitchState:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_controls.change_kill_switch(caller.tenant, change, actor=f"admin:{caller.subject}")


lambda_handler = entrypoints.http(app)
