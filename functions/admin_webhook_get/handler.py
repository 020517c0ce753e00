"""GET /v1/admin/webhooks/{endpoint_id}: one webhook endpoint of the tenant (no secret)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.webhooks.models import ENDPOINT_ID_PATTERN, Endpoint

app = create_app()


@app.get(
    "/v1/admin/webhooks/<endpoint_id>",
    summary="Read a webhook endpoint",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422),
)
def get_endpoint(endpoint_id: Annotated[str, Path(pattern=ENDPOINT_ID_PATTERN)]) -> Endpoint:
    return container().webhook_endpoints.get(require_caller(app.current_event.raw_event).tenant, endpoint_id)


lambda_handler = entrypoints.http(app)
