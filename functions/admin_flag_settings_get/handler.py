"""GET /v1/admin/flag-settings: the client attributes the tenant allows in evaluation, and its exposure sampling."""

from aws_lambda_powertools.event_handler import Response

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import FlagSettings
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response

app = create_app()


@app.get(
    "/v1/admin/flag-settings",
    summary="Flag settings",
    tags=["flags admin"],
    responses=problem_responses(
        401, 403, ok_description="The settings; ETag carries their version", ok_headers=("ETag",)
    ),
)
def get_settings() -> Response[FlagSettings]:
    caller = require_caller(app.current_event.raw_event)
    settings = container().flag_controls.settings(caller.tenant)
    return versioned_response(settings, settings.version)


lambda_handler = entrypoints.http(app)
