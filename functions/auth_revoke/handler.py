"""POST /v1/auth/revoke: the caller's token, session or all sessions; admins any user of their tenant."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http import problems as p
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.identity.models import RevokeRequest
from firstmile.observability import logger

app = create_app()


@app.post(
    "/v1/auth/revoke",
    summary="Revoke sessions",
    tags=["identity"],
    responses=problem_responses(401, 403, ok=204, ok_description="Revoked"),
)
def revoke(request: Annotated[RevokeRequest, Body()]) -> Response[None]:
    caller = require_caller(app.current_event.raw_event)
    service, correlation_id = container().session_service, logger.get_correlation_id() or ""
    if request.user_id is not None and request.user_id != caller.subject:
        if not caller.has_role("admin"):
            raise p.Problem(p.PERM_FORBIDDEN, "Only an admin may revoke another user's sessions.")
        service.revoke_user_sessions(
            caller.tenant, request.user_id, actor=f"admin:{caller.subject}", correlation_id=correlation_id
        )
    else:
        service.revoke_own(
            caller.tenant,
            caller.subject,
            caller.session_id or "",
            caller.token_id or "",
            caller.expires_at or 0,
            request.target,
            correlation_id=correlation_id,
        )
    return Response(204, None, "")


lambda_handler = entrypoints.http(app)
