"""POST /v1/admin/dsr/requests/{request_id}/approve: approve a pending privacy request; one an admin recorded needs
another admin. The request is queued for the worker. Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import REQUEST_ID_PATTERN, PrivacyRequestView

app = create_app()


@app.post(
    "/v1/admin/dsr/requests/<request_id>/approve",
    summary="Approve a privacy request",
    tags=["compliance"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_request(request_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN)]) -> PrivacyRequestView:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.approve(caller.tenant, caller.subject, request_id)


lambda_handler = entrypoints.http(app)
