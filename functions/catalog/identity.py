"""Identity: the authorizer, sessions and tokens, signing keys, and the operator's tenants and API clients."""

from __future__ import annotations

from firstmile.limits.models import RouteClass
from functions.catalog.model import API_STACK, Access, Authorizer, Function, Route, Schedule

STACK = "identity"

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="authorizer",
        domain="identity",
        # With the API it guards: the API's authorizer and the function's invoke permission refer to each other.
        stack=API_STACK,
        description="Verifies the bearer access token and passes tenant, user, roles and attributes on.",
        trigger=Authorizer(),
        memory_mb=256,
        timeout_seconds=5,
        access=Access(table="read"),
    ),
    Function(
        name="auth_token",
        domain="identity",
        stack=STACK,
        description="Mints a session for a user (client credentials) or rotates one (refresh token).",
        trigger=Route("POST", "/v1/auth/token", "public"),
        timeout_seconds=6,
        access=Access(table="write", signing_keys="read"),
    ),
    Function(
        name="auth_revoke",
        domain="identity",
        stack=STACK,
        description="Revokes the caller's token, session or every session; admins revoke users of their tenant.",
        trigger=Route("POST", "/v1/auth/revoke", "user", rate_class=RouteClass.USER_WRITE),
        timeout_seconds=6,
        access=Access(table="write"),
    ),
    Function(
        name="auth_logout",
        domain="identity",
        stack=STACK,
        description="Ends the session a refresh token (or the session cookie) belongs to, and clears the cookie.",
        trigger=Route("POST", "/v1/auth/logout", "public"),
        timeout_seconds=6,
        access=Access(table="write"),
    ),
    Function(
        name="jwks",
        domain="identity",
        stack=STACK,
        description="The public signing keys (current, next and previous) as a JSON Web Key Set.",
        trigger=Route("GET", "/.well-known/jwks.json", "public"),
        memory_mb=128,
        timeout_seconds=3,
        access=Access(table="read"),
    ),
    Function(
        name="signing_key_rotation",
        domain="identity",
        stack=STACK,
        description="Hourly: publishes a new signing key ahead of use, promotes it, retires old keys after use.",
        trigger=Schedule("rate(1 hour)"),
        timeout_seconds=30,
        reserved_concurrency=1,
        access=Access(table="write", signing_keys="write"),
    ),
    Function(
        name="operator_tenant_create",
        domain="identity",
        stack=STACK,
        description="Creates a tenant.",
        trigger=Route("POST", "/v1/operator/tenants", "operator"),
        access=Access(table="write"),
    ),
    Function(
        name="operator_client_create",
        domain="identity",
        stack=STACK,
        description="Creates an API client of a tenant; its secret is shown once.",
        trigger=Route("POST", "/v1/operator/tenants/{tenant_id}/clients", "operator"),
        access=Access(table="write"),
    ),
    Function(
        name="operator_client_list",
        domain="identity",
        stack=STACK,
        description="Lists a tenant's API clients (never their secrets).",
        trigger=Route("GET", "/v1/operator/tenants/{tenant_id}/clients", "operator"),
        access=Access(table="read"),
    ),
    Function(
        name="operator_client_rotate",
        domain="identity",
        stack=STACK,
        description="Issues a new secret for an API client; the old one works for a grace period.",
        trigger=Route("POST", "/v1/operator/tenants/{tenant_id}/clients/{client_id}/rotate-secret", "operator"),
        access=Access(table="write"),
    ),
    Function(
        name="operator_client_disable",
        domain="identity",
        stack=STACK,
        description="Disables an API client: it can mint no more sessions.",
        trigger=Route("POST", "/v1/operator/tenants/{tenant_id}/clients/{client_id}/disable", "operator"),
        access=Access(table="write"),
    ),
)
