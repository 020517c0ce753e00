"""The roles of Firstmile, declared once: the catalogue names one per route, tokens carry them, the HTTP layer checks.

``user`` sees their own data, ``admin`` their tenant, ``operator`` the platform; ``public`` is no role at all (every
caller holds it) and is only ever required by a route, never carried by a token. Roles are ``Literal`` types rather
than an enum because they travel as plain strings in tokens, request bodies and the OpenAPI document: a ``Literal``
keeps those schemas and their validation messages as they are (docs/decisions/0044-catalogue-package.md).
"""

from __future__ import annotations

from typing import Literal, get_args

TenantRole = Literal["user", "admin"]
"""A role within one tenant (what a tenant's API client may grant)."""

SessionRole = Literal[TenantRole, "operator"]
"""A role an access token can carry."""

Role = Literal["public", SessionRole]
"""A role a route can require."""

TENANT_ROLES: tuple[TenantRole, ...] = get_args(TenantRole)
SESSION_ROLES: tuple[SessionRole, ...] = get_args(SessionRole)
ROLES: tuple[Role, ...] = get_args(Role)
