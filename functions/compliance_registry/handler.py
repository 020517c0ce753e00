"""GET /v1/compliance/registry: the tenant's record of processing activities (Article 30 GDPR) for what Firstmile
stores, rendered from the declarations of every stored item kind; ``format=markdown`` answers it for auditors."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.clock import utc_now
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.article30 import Format, ProcessingRecord, markdown, processing_record

app = create_app()

_RESPONSES = problem_responses(401, 403, 422)
_RESPONSES[200]["content"] = {
    "application/json": {"model": ProcessingRecord},
    "text/markdown": {"schema": {"type": "string", "description": "The same record, for auditors"}},
}


@app.get(
    "/v1/compliance/registry",
    summary="The record of processing activities",
    description="Every kind of item Firstmile stores, grouped by purpose: whose data, which categories, the legal "
    "basis, how long it is kept and how a user's part of it is erased. `format=markdown` answers the same record as "
    "text/markdown.",
    tags=["compliance"],
    responses=_RESPONSES,
)
def registry(format: Annotated[Format, Query()] = "json") -> Response[ProcessingRecord | str]:  # noqa: A002 - the name clients send
    caller = require_caller(app.current_event.raw_event)
    record = processing_record(caller.tenant, utc_now())
    if format == "markdown":
        return Response(200, "text/markdown; charset=utf-8", markdown(record))
    return Response(200, "application/json", record.model_dump(mode="json"))


lambda_handler = entrypoints.http(app)
