"""POST /v1/admin/webhooks: register an endpoint for event types; answers its signing secret, shown this once.
The URL must resolve to public addresses only (decision 0093). Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.observability import logger
from firstmile.webhooks.models import EndpointCreate, EndpointSecret

app = create_app()


@app.post(
    "/v1/admin/webhooks",
    summary="Register a webhook endpoint",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 409, 422, ok=201, ok_description="Registered; the secret is shown once"),
)
def create_endpoint(request: Annotated[EndpointCreate, Body()]) -> Response[EndpointSecret]:
    caller = require_caller(app.current_event.raw_event)
    created = container().webhook_endpoints.create(
        caller.tenant, f"admin:{caller.subject}", request, logger.get_correlation_id() or ""
    )
    return Response(201, "application/json", created.model_dump(mode="json"))


lambda_handler = entrypoints.http(app)
