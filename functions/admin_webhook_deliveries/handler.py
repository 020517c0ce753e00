"""GET /v1/admin/webhooks/{endpoint_id}/deliveries: the endpoint's delivery log, newest first: each message's
state, tries, last answer and when (kept 30 days)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT
from firstmile.webhooks.deliveries import DeliveryPage
from firstmile.webhooks.models import ENDPOINT_ID_PATTERN

app = create_app()


@app.get(
    "/v1/admin/webhooks/<endpoint_id>/deliveries",
    summary="List a webhook endpoint's deliveries",
    tags=["webhooks"],
    responses=problem_responses(400, 401, 403, 404, 422),
)
def list_deliveries(
    endpoint_id: Annotated[str, Path(pattern=ENDPOINT_ID_PATTERN)],
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> DeliveryPage:
    tenant = require_caller(app.current_event.raw_event).tenant
    return container().webhook_endpoints.deliveries(tenant, endpoint_id, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
