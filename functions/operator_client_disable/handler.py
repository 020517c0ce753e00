"""POST .../clients/{client_id}/disable: the client can mint no more sessions."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.identity.models import CLIENT_ID_PATTERN, TENANT_ID_PATTERN, ApiClientView
from firstmile.observability import logger

app = create_app()


@app.post(
    "/v1/operator/tenants/<tenant_id>/clients/<client_id>/disable",
    summary="Disable an API client",
    tags=["operator"],
    responses=problem_responses(401, 403, 404),
)
def disable(
    tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
    client_id: Annotated[str, Path(pattern=CLIENT_ID_PATTERN)],
) -> ApiClientView:
    caller = require_caller(app.current_event.raw_event)
    return container().tenancy_service.disable_client(
        tenant_id, client_id, actor=f"operator:{caller.subject}", correlation_id=logger.get_correlation_id() or ""
    )


lambda_handler = entrypoints.http(app)
