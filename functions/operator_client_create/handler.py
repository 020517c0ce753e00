"""POST /v1/operator/tenants/{tenant_id}/clients: create an API client; its secret is shown once."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.identity.models import TENANT_ID_PATTERN, ApiClientCreate, IssuedClientSecret
from firstmile.observability import logger

app = create_app()


@app.post(
    "/v1/operator/tenants/<tenant_id>/clients",
    summary="Create an API client",
    tags=["operator"],
    responses=problem_responses(401, 403, 404, ok=201, ok_description="Created; the secret is shown only now"),
)
def create_client(
    tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)], request: Annotated[ApiClientCreate, Body()]
) -> Response[IssuedClientSecret]:
    caller = require_caller(app.current_event.raw_event)
    issued = container().tenancy_service.create_client(
        tenant_id, request, actor=f"operator:{caller.subject}", correlation_id=logger.get_correlation_id() or ""
    )
    return Response(201, "application/json", issued.model_dump(mode="json"))


lambda_handler = entrypoints.http(app)
