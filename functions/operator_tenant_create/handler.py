"""POST /v1/operator/tenants: create a tenant (operators only)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.identity.models import Tenant, TenantCreate
from firstmile.observability import logger

app = create_app()


@app.post(
    "/v1/operator/tenants",
    summary="Create a tenant",
    tags=["operator"],
    responses=problem_responses(401, 403, 409, ok=201, ok_description="Created"),
)
def create_tenant(request: Annotated[TenantCreate, Body()]) -> Response[Tenant]:
    caller = require_caller(app.current_event.raw_event)
    tenant = container().tenancy_service.create_tenant(
        request, actor=f"operator:{caller.subject}", correlation_id=logger.get_correlation_id() or ""
    )
    return Response(201, "application/json", tenant.model_dump(mode="json"))


lambda_handler = entrypoints.http(app)
