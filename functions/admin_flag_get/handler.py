"""GET /v1/admin/feature-flags/{key}: a flag as stored now, and whether the kill switch holds it off; its ETag is its
version."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FLAG_KEY_PATTERN
from firstmile.flags.shapes import FlagView
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response

app = create_app()


@app.get(
    "/v1/admin/feature-flags/<key>",
    summary="Read a feature flag",
    tags=["flags admin"],
    responses=problem_responses(
        401, 403, 404, ok_description="The flag; ETag carries its version", ok_headers=("ETag",)
    ),
)
def get_flag(key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)]) -> Response[FlagView]:
    caller = require_caller(app.current_event.raw_event)
    flag = container().flag_admin.flag_view(caller.tenant, key)
    return versioned_response(flag, flag.version)


lambda_handler = entrypoints.http(app)
