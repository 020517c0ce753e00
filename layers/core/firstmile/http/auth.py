"""Who is calling: the identity the authorizer verified, as the functions see it.

The tenant and user always come from here (the verified token), never from a path or a body.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field

from firstmile.model import Model
from firstmile.roles import Role


class AuthContext(Model):
    """The verified caller of one request."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    subject: str
    roles: frozenset[str] = Field(default_factory=frozenset)
    attributes: dict[str, str] = Field(default_factory=dict)
    # The access token's session (refresh-token family), id and expiry, for revoking it.
    session_id: str | None = None
    token_id: str | None = None
    expires_at: int | None = None

    def has_role(self, role: Role) -> bool:
        """Whether the caller holds ``role`` (``public`` is held by everyone)."""
        return role == "public" or role in self.roles


def auth_from_event(event: dict[str, Any]) -> AuthContext | None:
    """Read the authorizer's context from an API Gateway HTTP API (payload v2) event, if any.

    The authorizer returns simple-response context values, which API Gateway passes on as strings:
    ``tenant``, ``sub``, ``roles`` (comma separated), ``attributes`` (a JSON object), ``sid``, ``jti``, ``exp``.
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
    expires = str(context.get("exp") or "")
    return AuthContext(
        tenant=str(tenant),
        subject=str(subject),
        roles=roles,
        attributes={str(k): str(v) for k, v in attributes.items()},
        session_id=str(context["sid"]) if context.get("sid") else None,
        token_id=str(context["jti"]) if context.get("jti") else None,
        expires_at=int(expires) if expires.isdigit() else None,
    )


def require_caller(event: dict[str, Any]) -> AuthContext:
    """The verified caller of a non-public route (the entry point has already refused anonymous calls)."""
    caller = auth_from_event(event)
    if caller is None:
        from firstmile import errors as e
        from firstmile.http import problems as p

        raise p.Problem(e.AUTH_UNAUTHENTICATED, "This route needs a valid access token.")
    return caller
