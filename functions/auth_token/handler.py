"""POST /v1/auth/token: client credentials mint a session; a refresh token rotates one."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.config import get_settings
from firstmile.http import problems as p
from firstmile.http.headers import header
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.identity.browser import presented_refresh_token, refresh_cookie
from firstmile.identity.clients import basic_credentials
from firstmile.identity.models import ClientCredentialsGrant, TokenRequest, TokenResponse, token_request_from_form
from firstmile.identity.runtime import session_service
from firstmile.identity.sessions import token_response
from firstmile.observability import logger

app = create_app()
# RFC 6749 section 5.2: a client that authenticated with HTTP Basic is answered with the Basic challenge.
BASIC_CHALLENGE = 'Basic realm="firstmile", charset="UTF-8"'


@app.post(
    "/v1/auth/token",
    summary="Mint or refresh a session",
    tags=["identity"],
    responses=problem_responses(400, 401, 403, 429, 503),
)
def token(request: Annotated[TokenRequest, Body()]) -> Response[TokenResponse]:
    service, event = session_service(), app.current_event
    if isinstance(request, ClientCredentialsGrant):
        given = basic_credentials(header(event.headers, "authorization"))
        client_id, secret = given or (request.client_id, request.client_secret)
        try:
            client = service.authenticate_client(
                client_id,
                secret,
                source_ip=event.request_context.http.source_ip,
                correlation_id=logger.get_correlation_id() or "",
            )
        except p.Problem as problem:
            if problem.error.status == 401:
                problem.headers.setdefault("WWW-Authenticate", BASIC_CHALLENGE)
            raise
        issued, browser = service.start_session(client, request), False
    else:
        presented = presented_refresh_token(
            request.refresh_token, request.delivery, event.cookies, event.headers, get_settings().cors_allow_origins
        )
        issued = service.refresh(presented.token, correlation_id=logger.get_correlation_id() or "")
        browser = presented.browser_mode
    body = token_response(issued, time.time(), refresh_in_body=not browser)
    cookies = [refresh_cookie(issued.refresh_token, body.refresh_token_expires_in)] if browser else None
    return Response(200, "application/json", body.model_dump(mode="json"), cookies=cookies)


lambda_handler = entrypoints.http(app, form=token_request_from_form)
