"""POST /v1/admin/webhooks/{endpoint_id}/rotate-secret: a new signing secret, shown this once; the previous one
keeps signing next to it for 24 hours, so receivers can switch. Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.observability import logger
from firstmile.webhooks.models import ENDPOINT_ID_PATTERN, EndpointSecret

app = create_app()


@app.post(
    "/v1/admin/webhooks/<endpoint_id>/rotate-secret",
    summary="Rotate a webhook endpoint's secret",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def rotate_secret(endpoint_id: Annotated[str, Path(pattern=ENDPOINT_ID_PATTERN)]) -> EndpointSecret:
    caller = require_caller(app.current_event.raw_event)
    return container().webhook_endpoints.rotate_secret(
        caller.tenant, f"admin:{caller.subject}", endpoint_id, logger.get_correlation_id() or ""
    )


lambda_handler = entrypoints.http(app)
