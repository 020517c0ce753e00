"""PUT /v1/admin/feature-flags/{key}: replace a flag as its next version; ``If-Match`` (or the body's version)
names the version the change was made on."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FLAG_KEY_PATTERN, Flag
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import expected_version, versioned_response

app = create_app()


@app.put(
    "/v1/admin/feature-flags/<key>",
    summary="Change a feature flag",
    description="A new version with its diff in the history and an audit entry. 409 with the current flag when "
    "another change came first; 428 without If-Match or a body version.",
    tags=["flags admin"],
    responses=problem_responses(
        400, 401, 403, 404, 409, 422, 428, ok_description="The new version and its ETag", ok_headers=("ETag",)
    ),
    openapi_extensions=request_headers("If-Match"),
)
def update_flag(key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)], flag: Annotated[Flag, Body()]) -> Response[Flag]:
    caller = require_caller(app.current_event.raw_event)
    stored = container().flag_admin.update_flag(
        caller.tenant, key, flag, expected_version(app), actor=f"admin:{caller.subject}"
    )
    return versioned_response(stored, stored.version)


lambda_handler = entrypoints.http(app)
