"""GET /v1/admin/dsr/requests/{request_id}: one privacy request of the tenant, with its steps' receipt."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import REQUEST_ID_PATTERN, PrivacyRequestView

app = create_app()


@app.get(
    "/v1/admin/dsr/requests/<request_id>",
    summary="Read a privacy request",
    tags=["compliance"],
    responses=problem_responses(401, 403, 404, 422),
)
def get_request(request_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN)]) -> PrivacyRequestView:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.get(caller.tenant, request_id)


lambda_handler = entrypoints.http(app)
