"""DELETE /v1/admin/webhooks/{endpoint_id}: remove an endpoint; nothing more is delivered to it. Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.observability import logger
from firstmile.webhooks.models import ENDPOINT_ID_PATTERN

app = create_app()


@app.delete(
    "/v1/admin/webhooks/<endpoint_id>",
    summary="Delete a webhook endpoint",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 409, 422, ok=204, ok_description="Deleted"),
)
def delete_endpoint(endpoint_id: Annotated[str, Path(pattern=ENDPOINT_ID_PATTERN)]) -> Response[None]:
    caller = require_caller(app.current_event.raw_event)
    container().webhook_endpoints.delete(
        caller.tenant, f"admin:{caller.subject}", endpoint_id, logger.get_correlation_id() or ""
    )
    return Response(204, None, "")


lambda_handler = entrypoints.http(app)
