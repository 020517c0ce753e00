"""POST /v1/compliance/deletion/request: ask for the caller's erasure. A six-digit code goes to the user (SES to the
session's ``email`` attribute when deployed; the local outbox otherwise); it is stored as a digest and expires after
ten minutes. Three privacy requests a day per user."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.notifier import EMAIL_ATTRIBUTE
from firstmile.privacy.requests import PrivacyRequestView

app = create_app()


@app.post(
    "/v1/compliance/deletion/request",
    summary="Ask for the erasure of my data",
    description="Answers 202 with the request in state `identity_unverified` and when its code expires. Confirm "
    "with `POST /v1/compliance/deletion/verify`.",
    tags=["compliance"],
    responses=problem_responses(
        400, 401, 403, 409, 422, 429, 503, ok=202, ok_description="Code sent", ok_headers=("Idempotent-Replayed",)
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def request_deletion() -> Response[PrivacyRequestView]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        address = caller.attributes.get(EMAIL_ATTRIBUTE)
        made = container().data_rights.request_erasure(caller.tenant, caller.subject, address)
        return Response(202, "application/json", made.model_dump(mode="json"))

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
