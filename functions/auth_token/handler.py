"""POST /v1/auth/token: client credentials mint a session; a refresh token rotates one."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.http.browser import presented_refresh_token, refresh_cookie
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.token_endpoint import authenticate_token_client
from firstmile.identity.models import (
    TOKEN_FORM_SCHEMA,
    ClientCredentialsGrant,
    TokenRequest,
    TokenResponse,
    token_request_from_form,
)
from firstmile.identity.sessions import token_response
from firstmile.observability import logger

app = create_app()


@app.post(
    "/v1/auth/token",
    summary="Mint or refresh a session",
    tags=["identity"],
    responses=problem_responses(400, 401, 403, 429, 503),
    openapi_extensions=request_headers(form_schema=TOKEN_FORM_SCHEMA),
)
def token(request: Annotated[TokenRequest, Body()]) -> Response[TokenResponse]:
    service, event, correlation_id = container().session_service, app.current_event, logger.get_correlation_id() or ""
    if isinstance(request, ClientCredentialsGrant):
        client = authenticate_token_client(
            service,
            request,
            event.headers,
            source_ip=event.request_context.http.source_ip,
            correlation_id=correlation_id,
        )
        issued, browser = service.start_session(client, request), False
    else:
        presented = presented_refresh_token(
            request.refresh_token, request.delivery, event.cookies, event.headers, get_settings().cors_allow_origins
        )
        issued = service.refresh(presented.token, correlation_id=correlation_id)
        browser = presented.browser_mode
    body = token_response(issued, time.time(), refresh_in_body=not browser)
    cookies = [refresh_cookie(issued.refresh_token, body.refresh_token_expires_in)] if browser else None
    return Response(200, "application/json", body.model_dump(mode="json"), cookies=cookies)


lambda_handler = entrypoints.http(app, form=token_request_from_form)
