"""An HTTP API Lambda authorizer (payload 2.0, simple responses) that behaves like Firstmile's own.

It never denies by itself: ``Bearer good`` is a user of tenant t-1, any other token (or none) is passed on as an
``auth_error`` code for the function to answer. ``Bearer deny`` gets ``isAuthorized: false`` and ``Bearer crash``
raises, so the gateway's own answers to those can be tested. The context also says what the authorizer was sent.
"""

from typing import Any

ERRORS = {"": "AUTH_UNAUTHENTICATED", "Bearer unavailable": "SYS_UNAVAILABLE"}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = (event.get("headers") or {}).get("authorization", "")
    seen = {"seen_type": str(event.get("type")), "seen_version": str(event.get("version"))}
    seen["seen_route"] = f"{event.get('routeKey')} {event.get('routeArn')}"
    if token == "Bearer crash":
        raise RuntimeError("the authorizer broke")
    if token == "Bearer deny":
        return {"isAuthorized": False}
    if token == "Bearer good":
        return {"isAuthorized": True, "context": {"tenant": "t-1", "sub": "u-1", "roles": "user", **seen}}
    return {"isAuthorized": True, "context": {"auth_error": ERRORS.get(token, "AUTH_TOKEN_INVALID"), **seen}}
