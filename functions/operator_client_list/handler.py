"""GET /v1/operator/tenants/{tenant_id}/clients: a tenant's API clients, never their secrets."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.identity.models import TENANT_ID_PATTERN, ApiClientView
from firstmile.platform.cursors import DEFAULT_LIMIT, Page

app = create_app()


@app.get(
    "/v1/operator/tenants/<tenant_id>/clients",
    summary="List API clients",
    description=(
        "Lists a tenant's API clients (never their secrets). 404 RES_TENANT_NOT_FOUND when there is no such tenant."
    ),
    tags=["operator"],
    responses=problem_responses(400, 401, 403, 404),
)
def list_clients(
    tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Page[ApiClientView]:
    require_caller(app.current_event.raw_event)
    return container().tenancy_service.list_clients(tenant_id, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
