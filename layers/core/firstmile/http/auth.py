"""Who is calling: the identity the authorizer verified, as the functions see it.

The tenant and user always come from here (the verified token), never from a path or a body.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from firstmile.config import Role


class AuthContext(BaseModel):
    """The verified caller of one request."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    subject: str
    roles: frozenset[str] = Field(default_factory=frozenset)
    attributes: dict[str, str] = Field(default_factory=dict)

    def has_role(self, role: Role) -> bool:
        """Whether the caller holds ``role`` (``public`` is held by everyone)."""
        return role == "public" or role in self.roles


def auth_from_event(event: dict[str, Any]) -> AuthContext | None:
    """Read the authorizer's context from an API Gateway HTTP API (payload v2) event, if any.

    The authorizer returns simple-response context values, which API Gateway passes on as strings:
    ``tenant``, ``sub``, ``roles`` (comma separated) and ``attributes`` (a JSON object).
    """
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    context = authorizer.get("lambda") or {}
    tenant, subject = context.get("tenant"), context.get("sub")
    if not tenant or not subject:
        return None
    roles = frozenset(r.strip() for r in str(context.get("roles", "")).split(",") if r.strip())
    try:
        attributes = json.loads(context.get("attributes") or "{}")
    except (TypeError, ValueError):
        attributes = {}
    if not isinstance(attributes, dict):
        attributes = {}
    return AuthContext(
        tenant=str(tenant),
        subject=str(subject),
        roles=roles,
        attributes={str(k): str(v) for k, v in attributes.items()},
    )
