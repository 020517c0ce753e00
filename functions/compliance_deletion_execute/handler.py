"""POST /v1/compliance/deletion/execute: run a verified erasure. The request worker revokes every session, removes
every item of the caller, their exports and archived events, erases them from the audit log (which still verifies)
and writes a receipt. Asking again for a request already running answers it as it stands."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import PrivacyRequestView, RequestRef

app = create_app()


@app.post(
    "/v1/compliance/deletion/execute",
    summary="Run a verified erasure",
    tags=["compliance"],
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
def execute_deletion(ref: Annotated[RequestRef, Body()]) -> PrivacyRequestView:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.execute(caller.tenant, caller.subject, ref.request_id)


lambda_handler = entrypoints.http(app)
