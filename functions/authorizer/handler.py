"""The HTTP API's Lambda authorizer: verify the bearer token, pass the caller on.

It never denies by itself: a refused token is passed on as an ``auth_error`` code, and the function's entry point
answers 401 problem+json with that code (API Gateway's own deny answers carry no problem document). Roles are
checked by the function against the catalogue (docs/decisions/0006-authorizer-annotates-functions-decide.md).
"""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.headers import header
from firstmile.identity.authorizer import authorize, simple_response
from firstmile.identity.tokens import TokenRejected
from firstmile.observability import logger, metrics


def decide(event: dict[str, Any]) -> dict[str, Any]:
    try:
        claims = authorize(
            header(event.get("headers"), "authorization"),
            verifier=container().token_verifier,
            revocations=container().revocation_cache,
        )
    except TokenRejected as rejected:
        logger.info("access token refused", extra={"reason": rejected.reason.value})
        metrics.add_metric(name="AccessTokensRefused", unit="Count", value=1)
        return refused(rejected.code)
    except Exception:
        # Keys or revocations could not be read: fail closed, and say it is temporary.
        logger.exception("access token could not be checked")
        return refused("SYS_UNAVAILABLE")
    return simple_response(claims)


def refused(code: str) -> dict[str, Any]:
    return {"isAuthorized": True, "context": {entrypoints.AUTH_ERROR_KEY: code}}


lambda_handler = entrypoints.authorizer(decide)
