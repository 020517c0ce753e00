"""POST /v1/admin/feature-flags/{key}/rollback: make a flag as it was at an earlier version, as a new version."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FLAG_KEY_PATTERN, Flag
from firstmile.flags.shapes import RollbackRequest
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import expected_version, versioned_response

app = create_app()


@app.post(
    "/v1/admin/feature-flags/<key>/rollback",
    summary="Roll a feature flag back to an earlier version",
    description="If-Match names the current version; the restored content becomes the next version.",
    tags=["flags admin"],
    responses=problem_responses(
        400, 401, 403, 404, 409, 422, 428, ok_description="The new version", ok_headers=("ETag",)
    ),
    openapi_extensions=request_headers("If-Match"),
)
def rollback_flag(
    key: Annotated[str, Path(pattern=FLAG_KEY_PATTERN)], request: Annotated[RollbackRequest, Body()]
) -> Response[Flag]:
    caller = require_caller(app.current_event.raw_event)
    stored = container().flag_admin.rollback(
        caller.tenant, key, request.version, expected_version(app), actor=f"admin:{caller.subject}"
    )
    return versioned_response(stored, stored.version)


lambda_handler = entrypoints.http(app)
