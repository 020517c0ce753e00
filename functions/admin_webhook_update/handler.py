"""PATCH /v1/admin/webhooks/{endpoint_id}: change an endpoint's URL (checked again), event types, description or
whether it is enabled. Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.observability import logger
from firstmile.webhooks.models import ENDPOINT_ID_PATTERN, Endpoint, EndpointUpdate

app = create_app()


@app.patch(
    "/v1/admin/webhooks/<endpoint_id>",
    summary="Change a webhook endpoint",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_endpoint(
    endpoint_id: Annotated[str, Path(pattern=ENDPOINT_ID_PATTERN)], request: Annotated[EndpointUpdate, Body()]
) -> Endpoint:
    caller = require_caller(app.current_event.raw_event)
    return container().webhook_endpoints.update(
        caller.tenant, f"admin:{caller.subject}", endpoint_id, request, logger.get_correlation_id() or ""
    )


lambda_handler = entrypoints.http(app)
