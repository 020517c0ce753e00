"""An HTTP API Lambda authorizer (simple responses): ``Bearer good`` is a user of tenant t-1, anything else is not."""

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("type") != "REQUEST" or event.get("identitySource") != ["Bearer good"]:
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {"tenant": "t-1", "sub": "u-1", "roles": "user"}}
