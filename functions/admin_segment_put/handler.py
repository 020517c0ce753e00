"""PUT /v1/admin/segments/{key}: create or replace a segment (its users and conditions)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import SEGMENT_KEY_PATTERN, Segment
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.put(
    "/v1/admin/segments/<key>",
    summary="Create or replace a segment",
    description="Flags that test the segment see the change within 5 seconds. The last writer wins. 422 "
    "VAL_SEGMENT_KEY_MISMATCH when the body's key is not the path's.",
    tags=["flags admin"],
    responses=problem_responses(400, 401, 403, 422),
)
def put_segment(key: Annotated[str, Path(pattern=SEGMENT_KEY_PATTERN)], segment: Annotated[Segment, Body()]) -> Segment:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_controls.put_segment(caller.tenant, key, segment, actor=f"admin:{caller.subject}")


lambda_handler = entrypoints.http(app)
