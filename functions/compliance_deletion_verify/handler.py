"""POST /v1/compliance/deletion/verify: check the code sent for an erasure request. A wrong code counts an attempt
(403, with the attempts left); the fifth wrong one closes the request (409); an expired code is refused (410) without
counting. A right one verifies the request: it waits for ``execute``, or runs at once when the tenant says so."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import CodeCheck, PrivacyRequestView

app = create_app()


@app.post(
    "/v1/compliance/deletion/verify",
    summary="Confirm an erasure with its code",
    tags=["compliance"],
    responses=problem_responses(400, 401, 403, 404, 409, 410, 422, 429),
)
def verify_deletion(check: Annotated[CodeCheck, Body()]) -> PrivacyRequestView:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.verify(caller.tenant, caller.subject, check)


lambda_handler = entrypoints.http(app)
