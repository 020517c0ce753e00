"""What ``POST /v1/auth/token`` reads from HTTP to authenticate the client, and how it says no (RFC 6749 2.3, 5.2)."""

from __future__ import annotations

from collections.abc import Mapping

from firstmile import errors as e
from firstmile.http import problems as p
from firstmile.http.headers import header
from firstmile.identity.clients import basic_credentials
from firstmile.identity.models import ApiClient, ClientCredentialsGrant
from firstmile.identity.sessions import SessionService

# RFC 6749 section 5.2: a client that authenticated with HTTP Basic is answered with the Basic challenge; a client
# that sent its credentials in the body is invited to the method the RFC recommends.
BASIC_CHALLENGE = 'Basic realm="firstmile", charset="UTF-8"'


def authenticate_token_client(
    service: SessionService,
    grant: ClientCredentialsGrant,
    headers: Mapping[str, str] | None,
    *,
    source_ip: str | None,
    correlation_id: str = "",
) -> ApiClient:
    """The client a client-credentials request authenticates as (HTTP Basic first, else the body's fields); a 401
    carries the Basic challenge, a 429 the limit's headers."""
    given = basic_credentials(header(headers, "authorization"))
    client_id, secret = given or (grant.client_id, grant.client_secret)
    try:
        return service.authenticate_client(client_id, secret, source_ip=source_ip, correlation_id=correlation_id)
    except e.DomainError as error:
        problem = p.problem_for(error)
        if problem.error.status != 401:
            raise  # answered by the resolver like any other domain error
        problem.headers.setdefault("WWW-Authenticate", BASIC_CHALLENGE)
        raise problem from error
