"""POST /v1/admin/dsr/requests/{request_id}/deny: refuse an open privacy request that has not started, with the
reason the user is told (Article 12(4)). Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import REQUEST_ID_PATTERN, Denial, PrivacyRequestView

app = create_app()


@app.post(
    "/v1/admin/dsr/requests/<request_id>/deny",
    summary="Deny a privacy request",
    tags=["compliance"],
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
def deny_request(
    request_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN)], denial: Annotated[Denial, Body()]
) -> PrivacyRequestView:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.deny(caller.tenant, caller.subject, request_id, denial.reason)


lambda_handler = entrypoints.http(app)
