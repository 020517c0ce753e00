"""POST /v1/admin/dsr/export: record an export request the tenant received elsewhere (email, support desk) for
one of its users. It is queued at once, or waits for another admin's approval when the tenant's privacy settings ask
for one. Audited with the admin's note."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import AdminRequest, PrivacyRequestView, RequestType

app = create_app()


@app.post(
    "/v1/admin/dsr/export",
    summary="Record an export request for a user",
    tags=["compliance"],
    responses=problem_responses(
        400, 401, 403, 409, 422, ok=202, ok_description="Recorded", ok_headers=("Idempotent-Replayed",)
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def record_export(body: Annotated[AdminRequest, Body()]) -> Response[PrivacyRequestView]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        made = container().data_rights.record(caller.tenant, caller.subject, RequestType.EXPORT, body)
        return Response(202, "application/json", made.model_dump(mode="json"))

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
