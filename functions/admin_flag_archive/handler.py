"""DELETE /v1/admin/feature-flags/{key}: archive a flag (If-Match). It stays, with its history, and serves its off
value; evaluate-all leaves it out. PUT it with ``archived: false`` to bring it back."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FLAG_KEY_PATTERN, Flag
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import expected_version, versioned_response

app = create_app()


@app.delete(
    "/v1/admin/feature-flags/<key>",
    summary="Archive a feature flag",
    tags=["flags admin"],
    responses=problem_responses(
        400, 401, 403, 404, 409, 422, 428, ok_description="The archived version", ok_headers=("ETag",)
    ),
    openapi_extensions=request_headers("If-Match"),
)
def archive_flag(key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)]) -> Response[Flag]:
    caller = require_caller(app.current_event.raw_event)
    stored = container().flag_admin.archive_flag(
        caller.tenant, key, expected_version(app), actor=f"admin:{caller.subject}"
    )
    return versioned_response(stored, stored.version)


lambda_handler = entrypoints.http(app)
