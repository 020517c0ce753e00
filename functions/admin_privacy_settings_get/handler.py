"""GET /v1/admin/compliance/settings: the tenant's privacy settings (defaults until an admin sets them)."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import PrivacySettings

app = create_app()


@app.get(
    "/v1/admin/compliance/settings",
    summary="Privacy settings",
    tags=["compliance"],
    responses=problem_responses(401, 403),
)
def get_settings() -> PrivacySettings:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.settings(caller.tenant)


lambda_handler = entrypoints.http(app)
