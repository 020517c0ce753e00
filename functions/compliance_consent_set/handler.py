"""POST /v1/compliance/consent: grant or withdraw consent per purpose and cookie category, under a policy version.
Withdrawing analytics takes effect at once: none of the caller's later onboarding events is counted."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.headers import header
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.consent import ConsentChange, ConsentView, honouring_gpc

app = create_app()


@app.post(
    "/v1/compliance/consent",
    summary="Grant or withdraw consent",
    description="Each choice is recorded with the policy version, the source and the time, and kept as the evidence "
    "of consent. Necessary cookies cannot be refused (422). Sending the same choices again records them again. A "
    "request with `Sec-GPC: 1` (Global Privacy Control) withdraws analytics and marketing, as purposes and cookie "
    "categories, whatever its body says of them.",
    tags=["compliance"],
    responses=problem_responses(400, 401, 403, 422),
    openapi_extensions=request_headers("Sec-GPC"),
)
def set_consent(change: Annotated[ConsentChange, Body()]) -> ConsentView:
    caller = require_caller(app.current_event.raw_event)
    if (header(app.current_event.headers, "Sec-GPC") or "").strip() == "1":
        change = honouring_gpc(change)
    return container().consents.change(caller.tenant, caller.subject, change)


lambda_handler = entrypoints.http(app)
