"""GET /v1/admin/segments/{key}: one segment."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import SEGMENT_KEY_PATTERN, Segment
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/admin/segments/<key>",
    summary="Read a segment",
    tags=["flags admin"],
    responses=problem_responses(401, 403, 404),
)
def get_segment(key: Annotated[str, Path(pattern=SEGMENT_KEY_PATTERN)]) -> Segment:
    caller = require_caller(app.current_event.raw_event)
    return container().flag_controls.get_segment(caller.tenant, key)


lambda_handler = entrypoints.http(app)
