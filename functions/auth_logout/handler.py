"""POST /v1/auth/logout: end the session of a refresh token (body or cookie) and clear the cookie."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import Field

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.http.browser import cleared_refresh_cookie, presented_refresh_token
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.model import Model
from firstmile.observability import logger

app = create_app()


class LogoutRequest(Model):
    refresh_token: str | None = Field(default=None, max_length=128, description="Omit to use the session cookie")


@app.post(
    "/v1/auth/logout",
    summary="Log out",
    tags=["identity"],
    responses=problem_responses(401, 403, ok=204, ok_description="Logged out (also when already logged out)"),
)
def logout(request: Annotated[LogoutRequest, Body()]) -> Response[None]:
    event = app.current_event
    presented = presented_refresh_token(
        request.refresh_token, "body", event.cookies, event.headers, get_settings().cors_allow_origins
    )
    container().session_service.logout(presented.token, correlation_id=logger.get_correlation_id() or "")
    return Response(204, None, "", cookies=[cleared_refresh_cookie()])


lambda_handler = entrypoints.http(app)
