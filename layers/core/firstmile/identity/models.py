"""The shapes of identity: tenants, API clients, sessions, access-token claims, token requests and answers.

Times are epoch seconds (``float``) throughout the identity domain: the clock is injected as ``Clock`` and
the stores keep the same numbers, so conditions such as "not expired" compare like with like.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from firstmile import roles
from firstmile.model import Model
from firstmile.roles import SessionRole, TenantRole

Clock = Callable[[], float]
"""Returns the current time as epoch seconds (``time.time`` in production, a fake in tests)."""

TENANT_ROLES: frozenset[SessionRole] = frozenset(roles.TENANT_ROLES)
OPERATOR_ROLES: frozenset[SessionRole] = frozenset({"operator"})

# Tenant ids are lower-case slugs; the platform's own tenant starts with "_" so no operator can create it by API.
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,47}$"
# An API client id: "fmc_" and 128 random bits, base64url (identity/clients.py makes them).
CLIENT_ID_PATTERN = r"^fmc_[A-Za-z0-9_-]{22}$"
PLATFORM_TENANT = "_platform"
# User ids come from the customer's backend (e.g. "auth0|123", "u-42", an e-mail-free UUID). No "#": it is the
# key separator.
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@|+\-]{0,127}$"
ATTRIBUTE_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_ATTRIBUTES = 10
MAX_ATTRIBUTE_VALUE_LENGTH = 64

UserId = Annotated[str, Field(pattern=USER_ID_PATTERN, description="The user's id in the customer's product")]
Attributes = Annotated[
    dict[str, str],
    Field(
        max_length=MAX_ATTRIBUTES,
        description="Facts about the user the customer's backend vouches for (market, locale, plan, ...)",
    ),
]


def _check_attributes(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if not re.match(ATTRIBUTE_KEY_PATTERN, key):
            raise ValueError(f"attribute names must match {ATTRIBUTE_KEY_PATTERN}")
        if len(item) > MAX_ATTRIBUTE_VALUE_LENGTH:
            raise ValueError(f"attribute {key} is longer than {MAX_ATTRIBUTE_VALUE_LENGTH} characters")
    return value


# --- tenants and API clients -------------------------------------------------------------------------------


class Tenant(Model):
    """One customer organisation."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    name: str
    created_at: float
    created_by: str


class TenantCreate(Model):
    """``POST /v1/operator/tenants``."""

    name: str = Field(min_length=1, max_length=100)
    tenant_id: str | None = Field(
        default=None, pattern=TENANT_ID_PATTERN, description="Chosen id; generated when absent"
    )


class ApiClientView(Model):
    """An API client as operators see it: never its secret or the secret's hash."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    tenant_id: str
    name: str
    allowed_roles: tuple[SessionRole, ...]
    disabled: bool
    created_at: float
    secret_rotated_at: float | None = None
    previous_secret_expires_at: float | None = Field(
        default=None, description="Until when the secret before the last rotation still works"
    )


class ApiClient(Model):
    """An API client as stored: the customer's backend that mints sessions for its users."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    tenant_id: str
    name: str
    secret_hash: str
    previous_secret_hash: str | None = None
    previous_secret_expires_at: float | None = None
    allowed_roles: tuple[SessionRole, ...]
    disabled: bool = False
    disabled_at: float | None = None
    created_at: float
    secret_rotated_at: float | None = None

    def view(self) -> ApiClientView:
        """What may be shown about this client."""
        return ApiClientView(
            client_id=self.client_id,
            tenant_id=self.tenant_id,
            name=self.name,
            allowed_roles=self.allowed_roles,
            disabled=self.disabled,
            created_at=self.created_at,
            secret_rotated_at=self.secret_rotated_at,
            previous_secret_expires_at=self.previous_secret_expires_at,
        )


class ApiClientCreate(Model):
    """``POST /v1/operator/tenants/{tenant_id}/clients``."""

    name: str = Field(min_length=1, max_length=100)
    allowed_roles: tuple[TenantRole, ...] = Field(
        default=("user", "admin"), min_length=1, description="Roles this client may grant to the sessions it mints"
    )


class IssuedClientSecret(Model):
    """A client secret shown exactly once: at creation and at rotation. Only its hash is stored."""

    client: ApiClientView
    client_secret: str = Field(description="Shown once; store it in the customer's secret manager")


# --- sessions and tokens -----------------------------------------------------------------------------------


class AccessClaims(Model):
    """The claims of a Firstmile access token (ES256 JWT, ``typ`` = ``at+jwt``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    iss: str
    aud: str
    sub: str = Field(pattern=USER_ID_PATTERN)
    tenant: str = Field(min_length=1, max_length=48)
    roles: tuple[SessionRole, ...] = Field(min_length=1)
    attributes: dict[str, str] = Field(default_factory=dict)
    jti: str = Field(min_length=16, max_length=64)
    sid: str = Field(min_length=16, max_length=64, description="The session (refresh-token family) id")
    iat: int
    nbf: int
    exp: int


class Family(Model):
    """A session: the chain of refresh tokens minted from one client-credentials grant.

    Only hashes are kept: the current token's and its immediate predecessor's (for the overlap window).
    """

    model_config = ConfigDict(frozen=True)

    family_id: str
    tenant: str
    user: str
    client_id: str
    roles: tuple[SessionRole, ...]
    attributes: dict[str, str] = Field(default_factory=dict)
    current_hash: str
    previous_hash: str | None = None
    previous_rotated_at: float | None = None
    generation: int = 0
    created_at: float
    absolute_expires_at: float
    idle_expires_at: float
    revoked: bool = False
    revoked_at: float | None = None
    revoked_reason: str | None = None


class RefreshPointer(Model):
    """Where a refresh token (by its SHA-256) belongs: one per token ever issued, until the family's end."""

    model_config = ConfigDict(frozen=True)

    token_hash: str
    tenant: str
    user: str
    family_id: str
    expires_at: float


class Revocations(Model):
    """Everything revoked for one user whose access tokens may still be alive."""

    model_config = ConfigDict(frozen=True)

    revoked_before: int | None = Field(
        default=None, description="Tokens issued at or before this epoch second are revoked (sign out everywhere)"
    )
    families: frozenset[str] = frozenset()
    token_ids: frozenset[str] = frozenset()


class IssuedSession(Model):
    """What a successful token request produced."""

    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: float
    claims: AccessClaims


# --- the token endpoint --------------------------------------------------------------------------------------


class ClientCredentialsGrant(Model):
    """The customer's backend mints a session for a user it vouches for.

    The client authenticates with HTTP Basic (preferred) or ``client_id``/``client_secret`` in the body.
    """

    grant_type: Literal["client_credentials"]
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=128)
    user_id: UserId
    roles: tuple[SessionRole, ...] = Field(default=("user",), min_length=1, max_length=3)
    attributes: Attributes = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _attributes_are_small(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_attributes(value)


class RefreshTokenGrant(Model):
    """Rotation: a refresh token in, a new access token and a new refresh token out.

    Browsers omit ``refresh_token`` and send the ``__Host-`` cookie instead (with the CSRF defence);
    ``delivery = "cookie"`` moves a token handed over by the customer's backend into that cookie.
    """

    grant_type: Literal["refresh_token"]
    refresh_token: str | None = Field(default=None, max_length=128)
    delivery: Literal["body", "cookie"] = "body"


TokenRequest = Annotated[ClientCredentialsGrant | RefreshTokenGrant, Field(discriminator="grant_type")]

# The form a client may send instead of JSON (RFC 6749): the same fields as text, roles as a space-separated scope.
TOKEN_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials", "refresh_token"]},
        "client_id": {"type": "string", "maxLength": 64},
        "client_secret": {"type": "string", "maxLength": 128},
        "user_id": {"type": "string", "pattern": USER_ID_PATTERN},
        "scope": {"type": "string", "description": "The roles, space separated (also accepted as roles)"},
        "refresh_token": {"type": "string", "maxLength": 128},
        "delivery": {"type": "string", "enum": ["body", "cookie"]},
    },
    "patternProperties": {r"^attributes\[[a-z][a-z0-9_]{0,31}\]$": {"type": "string", "maxLength": 64}},
    "additionalProperties": False,
}

_FORM_ATTRIBUTE = re.compile(r"^attributes\[([^\]]*)\]$")


def token_request_from_form(fields: dict[str, str]) -> dict[str, Any]:
    """A token request sent as an ``application/x-www-form-urlencoded`` form (RFC 6749 section 4.4 and 6), as the
    JSON body ``TokenRequest`` reads.

    Fields keep their JSON names; a field without a value counts as absent (RFC 6749 section 3.1). The roles may also
    be given as ``scope``, space separated (section 3.3); an attribute as ``attributes[name]=value``.
    """
    body: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for name, value in fields.items():
        if value == "":
            continue
        attribute = _FORM_ATTRIBUTE.match(name)
        if attribute:
            attributes[attribute.group(1)] = value
        elif name in ("scope", "roles"):
            body["roles"] = value.split()
        else:
            body[name] = value
    if attributes:
        body["attributes"] = attributes
    return body


class TokenResponse(Model):
    """The answer of ``POST /v1/auth/token``."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str | None = Field(default=None, description="null when it was set as the session cookie")
    refresh_token_expires_in: int = Field(description="Seconds until the refresh token expires unless rotated")
    session_id: str


class RevokeRequest(Model):
    """``POST /v1/auth/revoke``: what to revoke of the caller's own sessions."""

    target: Literal["token", "session", "all"] = Field(
        default="session", description="This access token, its whole session, or every session of the user"
    )
    user_id: UserId | None = Field(
        default=None, description="Admins only: revoke every session of this user of the admin's tenant"
    )
