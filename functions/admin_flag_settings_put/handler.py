"""PUT /v1/admin/flag-settings: set the client attributes allowed in evaluation and the exposure sample rate."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FlagSettings
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import expected_version, versioned_response

app = create_app()


@app.put(
    "/v1/admin/flag-settings",
    summary="Change flag settings",
    description="With If-Match, only on that version (409 otherwise). In force within 5 seconds.",
    tags=["flags admin"],
    responses=problem_responses(
        400, 401, 403, 409, ok_description="The new settings and their ETag", ok_headers=("ETag",)
    ),
    openapi_extensions=request_headers("If-Match"),
)
def put_settings(settings: Annotated[FlagSettings, Body()]) -> Response[FlagSettings]:
    caller = require_caller(app.current_event.raw_event)
    stored = container().flag_controls.put_settings(
        caller.tenant, settings, expected_version(app), actor=f"admin:{caller.subject}"
    )
    return versioned_response(stored, stored.version)


lambda_handler = entrypoints.http(app)
