"""POST /v1/compliance/export/request: ask for a package of everything Firstmile stores about the caller. The
request is approved at once (the token proves who asks) and queued; ``GET /v1/compliance/export/{request_id}``
answers its state and, once complete, a download link. Three privacy requests a day per user."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import PrivacyRequestView

app = create_app()


@app.post(
    "/v1/compliance/export/request",
    summary="Ask for an export of my data",
    description="Answers 202 with the request: its id, state `approved`, and its 30-day deadline. The package is a "
    "JSON document of a documented, versioned schema (`firstmile.export`, version 1) in an encrypted bucket.",
    tags=["compliance"],
    responses=problem_responses(
        400, 401, 403, 409, 429, ok=202, ok_description="Queued", ok_headers=("Idempotent-Replayed",)
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def request_export() -> Response[PrivacyRequestView]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        made = container().data_rights.request_export(caller.tenant, caller.subject)
        return Response(202, "application/json", made.model_dump(mode="json"))

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
