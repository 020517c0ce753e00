"""Operator actions on tenants and API clients, each one audited in the chain of the tenant it concerns, in the same
transaction as the change.

The first operator credentials of a deployment come from ``bootstrap_operator`` (run by a CLI command): an API
client of the platform's own tenant that may grant only the ``operator`` role. Operators then mint operator
sessions with the client-credentials grant like any customer backend mints user sessions.
"""

from __future__ import annotations

import contextlib
import secrets
import time

from firstmile import errors as e
from firstmile.audit.models import AuditEvent
from firstmile.identity import clients
from firstmile.identity.models import (
    OPERATOR_ROLES,
    PLATFORM_TENANT,
    ApiClient,
    ApiClientCreate,
    ApiClientView,
    Clock,
    IssuedClientSecret,
    Tenant,
    TenantCreate,
)
from firstmile.identity.ports import IdentityStorePort
from firstmile.identity.store import AlreadyExistsError
from firstmile.platform.cursors import DEFAULT_LIMIT, Page
from firstmile.roles import SessionRole


class OperatorAlreadyBootstrappedError(Exception):
    """The deployment already has an enabled operator client; bootstrapping again needs ``force``."""


class TenancyService:
    """Creates tenants and API clients, rotates client secrets, disables clients."""

    def __init__(
        self,
        store: IdentityStorePort,
        *,
        clock: Clock = time.time,
        secret_grace_seconds: float = 24 * 3600,
    ) -> None:
        self._store = store
        self._clock = clock
        self._grace = secret_grace_seconds

    def create_tenant(self, request: TenantCreate, *, actor: str, correlation_id: str = "") -> Tenant:
        """A new tenant (``RES_TENANT_EXISTS`` when the chosen id is taken)."""
        tenant = Tenant(
            tenant_id=request.tenant_id or f"t-{secrets.token_hex(6)}",
            name=request.name,
            created_at=self._clock(),
            created_by=actor,
        )
        event = _event(tenant.tenant_id, actor, "tenant.created", f"tenant:{tenant.tenant_id}", correlation_id)
        try:
            return self._store.create_tenant(tenant, event=event)
        except AlreadyExistsError:
            raise e.DomainError(e.RES_TENANT_EXISTS, f"Tenant {tenant.tenant_id} already exists.") from None

    def create_client(
        self, tenant_id: str, request: ApiClientCreate, *, actor: str, correlation_id: str = ""
    ) -> IssuedClientSecret:
        """A new API client of ``tenant_id``; its secret is in the answer and nowhere else."""
        self._tenant(tenant_id)
        return self._new_client(tenant_id, request.name, request.allowed_roles, "client.created", actor, correlation_id)

    def rotate_client_secret(
        self, tenant_id: str, client_id: str, *, actor: str, correlation_id: str = ""
    ) -> IssuedClientSecret:
        """A new secret for the client; the old one keeps working for the grace period."""
        client = self._client_of(tenant_id, client_id)
        if client.disabled:
            raise e.NotFoundError(f"client {client_id}", code=e.RES_CLIENT_NOT_FOUND)
        secret = clients.new_client_secret()
        rotated = clients.with_rotated_secret(client, clients.hash_secret(secret), self._clock(), self._grace)
        event = _event(tenant_id, actor, "client.secret_rotated", f"client:{client_id}", correlation_id)
        self._store.replace_client(client, rotated, event=event)
        return IssuedClientSecret(client=rotated.view(), client_secret=secret)

    def disable_client(self, tenant_id: str, client_id: str, *, actor: str, correlation_id: str = "") -> ApiClientView:
        """Disable the client: its credentials are refused from now on (sessions it minted live on)."""
        self._client_of(tenant_id, client_id)
        event = _event(tenant_id, actor, "client.disabled", f"client:{client_id}", correlation_id)
        disabled = self._store.disable_client(client_id, self._clock(), event=event)
        if disabled is None:
            raise e.NotFoundError(f"client {client_id}", code=e.RES_CLIENT_NOT_FOUND)
        return disabled.view()

    def list_clients(
        self, tenant_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[ApiClientView]:
        """One page of a tenant's clients, without secrets or hashes; ``RES_TENANT_NOT_FOUND`` for a tenant that
        does not exist."""
        self._tenant(tenant_id)
        page = self._store.list_clients(tenant_id, limit=limit, cursor=cursor)
        return Page[ApiClientView](items=[c.view() for c in page.items], next_cursor=page.next_cursor)

    def bootstrap_operator(
        self, *, name: str = "operator", actor: str = "system:cli", correlation_id: str = "", force: bool = False
    ) -> IssuedClientSecret:
        """The first operator credentials of a deployment (refused when some exist, unless ``force``)."""
        if self._store.get_tenant(PLATFORM_TENANT) is None:
            # A concurrent bootstrap may have created it.
            with contextlib.suppress(AlreadyExistsError):
                self._store.create_tenant(
                    Tenant(
                        tenant_id=PLATFORM_TENANT, name="Platform operators", created_at=self._clock(), created_by=actor
                    ),
                    event=_event(PLATFORM_TENANT, actor, "tenant.created", f"tenant:{PLATFORM_TENANT}", correlation_id),
                )
        existing = [c for c in self._store.list_clients(PLATFORM_TENANT, limit=100).items if not c.disabled]
        if existing and not force:
            raise OperatorAlreadyBootstrappedError(
                f"{len(existing)} operator client(s) exist; disable them or bootstrap with force"
            )
        return self._new_client(
            PLATFORM_TENANT, name, tuple(OPERATOR_ROLES), "operator.bootstrapped", actor, correlation_id
        )

    def _new_client(
        self, tenant_id: str, name: str, roles: tuple[SessionRole, ...], action: str, actor: str, correlation_id: str
    ) -> IssuedClientSecret:
        """A new client, stored with its audit entry (``action``) in one transaction."""
        secret = clients.new_client_secret()
        client = ApiClient(
            client_id=clients.new_client_id(),
            tenant_id=tenant_id,
            name=name,
            secret_hash=clients.hash_secret(secret),
            allowed_roles=tuple(sorted(set(roles))),
            created_at=self._clock(),
        )
        self._store.create_client(
            client, event=_event(tenant_id, actor, action, f"client:{client.client_id}", correlation_id)
        )
        return IssuedClientSecret(client=client.view(), client_secret=secret)

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self._store.get_tenant(tenant_id)
        if tenant is None:
            raise e.NotFoundError(f"tenant {tenant_id}", code=e.RES_TENANT_NOT_FOUND)
        return tenant

    def _client_of(self, tenant_id: str, client_id: str) -> ApiClient:
        client = self._store.get_client(client_id) if clients.looks_like_client_id(client_id) else None
        if client is None or client.tenant_id != tenant_id:
            raise e.NotFoundError(f"client {client_id}", code=e.RES_CLIENT_NOT_FOUND)
        return client


def _event(tenant: str, actor: str, action: str, target: str, correlation_id: str) -> AuditEvent:
    return AuditEvent(tenant=tenant, actor=actor, action=action, target=target, correlation_id=correlation_id)
