"""In-memory identity storage: tenants, clients, refresh-token families, revocations, published keys, and the
signing-key secret."""

from __future__ import annotations

import math
from typing import Any, TypeVar

from firstmile.audit.models import AuditEvent
from firstmile.errors import DependencyUnavailableError, VersionConflictError
from firstmile.identity.keys import KeySet
from firstmile.identity.models import ApiClient, Family, RefreshPointer, Revocations, Tenant
from firstmile.identity.store import AlreadyExistsError
from firstmile.platform.cursors import DEFAULT_LIMIT, Page
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.faults import Faults
from tests.fakes.paging import page_of

R = TypeVar("R")
# A revocation of a session or of everything lasts until no access token it concerns can still be alive.
_REVOCATION_MARGIN_SECONDS = 60


def _client_order(client: ApiClient) -> str:
    return f"{int(client.created_at * 1000):015d}#{client.client_id}"


class FakeIdentityStore(AuditedFake):
    """``IdentityStorePort`` in memory; audited changes append to ``audit`` under its lock, with the change."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self._tenants: dict[str, Tenant] = {}
        self._clients: dict[str, ApiClient] = {}
        self._families: dict[tuple[str, str, str], Family] = {}
        self._pointers: dict[str, RefreshPointer] = {}
        # (tenant, user) -> revocation name ("ALL", "FAMILY#<id>", "JTI#<id>") -> (expires at, revoked before)
        self._revocations: dict[tuple[str, str], dict[str, tuple[int, int | None]]] = {}
        self._jwks: tuple[dict[str, Any], int] = ({"keys": []}, 0)

    # --- tenants and clients ------------------------------------------------------------------------------------

    def record_event(self, event: AuditEvent) -> None:
        self.faults.enter("record_event")
        self.audit.record(event)

    def create_tenant(self, tenant: Tenant, *, event: AuditEvent) -> Tenant:
        return self._create("tenant", self._tenants, tenant.tenant_id, tenant, event)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        self.faults.enter("get_tenant")
        return self._tenants.get(tenant_id)

    def create_client(self, client: ApiClient, *, event: AuditEvent) -> ApiClient:
        return self._create("client", self._clients, client.client_id, client, event)

    def _create(self, kind: str, records: dict[str, R], key: str, record: R, event: AuditEvent) -> R:
        """``create_<kind>``: store a new ``record`` under ``key`` and append ``event`` together; ``AlreadyExistsError``
        when the key is taken (or the operation is told to lose a race)."""
        operation = f"create_{kind}"
        self.faults.enter(operation)
        with self._lock:
            if key in records or self.faults.conflicts(operation):
                raise AlreadyExistsError(f"{kind} {key}")
            records[key] = record
            self.audit.record(event)
        return record

    def get_client(self, client_id: str) -> ApiClient | None:
        self.faults.enter("get_client")
        return self._clients.get(client_id)

    def list_clients(self, tenant_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page[ApiClient]:
        self.faults.enter("list_clients")
        with self._lock:
            ordered = sorted((c for c in self._clients.values() if c.tenant_id == tenant_id), key=_client_order)
        items, next_cursor = page_of(ordered, _client_order, scope=f"clients|{tenant_id}", limit=limit, cursor=cursor)
        return Page[ApiClient](items=items, next_cursor=next_cursor)

    def replace_client(self, before: ApiClient, after: ApiClient, *, event: AuditEvent) -> ApiClient:
        self.faults.enter("replace_client")
        with self._lock:
            stored = self._clients.get(before.client_id)
            if (
                stored is None
                or stored.secret_hash != before.secret_hash
                or stored.disabled
                or self.faults.conflicts("replace_client")
            ):
                raise VersionConflictError(None, None)
            self._clients[after.client_id] = after
            self.audit.record(event)
        return after

    def disable_client(self, client_id: str, now: float, *, event: AuditEvent) -> ApiClient | None:
        self.faults.enter("disable_client")
        with self._lock:
            stored = self._clients.get(client_id)
            if stored is None:
                return None
            disabled_at = stored.disabled_at if stored.disabled_at is not None else round(now, 3)
            self._clients[client_id] = stored.model_copy(update={"disabled": True, "disabled_at": disabled_at})
            self.audit.record(event)
            return self._clients[client_id]

    # --- sessions -----------------------------------------------------------------------------------------------

    def start_family(self, family: Family) -> None:
        self.faults.enter("start_family")
        with self._lock:
            key = (family.tenant, family.user, family.family_id)
            if key in self._families or family.current_hash in self._pointers:
                raise DependencyUnavailableError("table", "ConditionalCheckFailedException")
            self._families[key] = family
            self._pointers[family.current_hash] = self._pointer(family)

    def find_pointer(self, token_hash: str) -> RefreshPointer | None:
        self.faults.enter("find_pointer")
        return self._pointers.get(token_hash)

    def get_family(self, tenant: str, user: str, family_id: str) -> Family | None:
        self.faults.enter("get_family")
        return self._families.get((tenant, user, family_id))

    def list_families(self, tenant: str, user: str) -> list[Family]:
        self.faults.enter("list_families")
        with self._lock:
            return [family for (t, u, _), family in sorted(self._families.items()) if (t, u) == (tenant, user)]

    def rotate_family(self, before: Family, after: Family, now: float) -> bool:
        self.faults.enter("rotate_family")
        with self._lock:
            stored = self._families.get((before.tenant, before.user, before.family_id))
            if (
                stored is None
                or stored.current_hash != before.current_hash
                or stored.revoked
                or stored.absolute_expires_at <= now
                or stored.idle_expires_at <= now
                or after.current_hash in self._pointers
                or self.faults.conflicts("rotate_family")
            ):
                return False
            self._families[(before.tenant, before.user, before.family_id)] = stored.model_copy(
                update={
                    "current_hash": after.current_hash,
                    "previous_hash": before.current_hash,
                    "previous_rotated_at": now,
                    "generation": after.generation,
                    "idle_expires_at": after.idle_expires_at,
                }
            )
            self._pointers[after.current_hash] = self._pointer(after)
            return True

    def revoke_family(
        self,
        tenant: str,
        user: str,
        family_id: str,
        *,
        now: float,
        reason: str,
        access_ttl_seconds: int,
        event: AuditEvent | None = None,
    ) -> Family | None:
        self.faults.enter("revoke_family")
        with self._lock:
            expires = math.ceil(now + access_ttl_seconds + _REVOCATION_MARGIN_SECONDS)
            self._revocations.setdefault((tenant, user), {})[f"FAMILY#{family_id}"] = (expires, None)
            if event is not None:
                self.audit.record(event)
            stored = self._families.get((tenant, user, family_id))
            if stored is None:
                return None
            if not stored.revoked:
                stored = stored.model_copy(update={"revoked": True, "revoked_at": now, "revoked_reason": reason})
                self._families[(tenant, user, family_id)] = stored
            return stored

    def revoke_user(
        self, tenant: str, user: str, *, now: float, access_ttl_seconds: int, reason: str, event: AuditEvent
    ) -> list[str]:
        self.faults.enter("revoke_user")
        with self._lock:
            marks = self._revocations.setdefault((tenant, user), {})
            _, before = marks.get("ALL", (0, None))
            if before is None or before < int(now):
                marks["ALL"] = (math.ceil(now + access_ttl_seconds + _REVOCATION_MARGIN_SECONDS), int(now))
            self.audit.record(event)
            alive = [f.family_id for f in self.list_families(tenant, user) if not f.revoked]
        for family_id in alive:
            self.revoke_family(tenant, user, family_id, now=now, reason=reason, access_ttl_seconds=access_ttl_seconds)
        return alive

    def revoke_token(self, tenant: str, user: str, jti: str, expires_at: float) -> None:
        self.faults.enter("revoke_token")
        with self._lock:
            self._revocations.setdefault((tenant, user), {})[f"JTI#{jti}"] = (math.ceil(expires_at), None)

    def revocations(self, tenant: str, user: str, now: float) -> Revocations:
        self.faults.enter("revocations")
        families, token_ids, revoked_before = set(), set(), None
        with self._lock:
            for name, (expires_at, before) in self._revocations.get((tenant, user), {}).items():
                if expires_at <= now:
                    continue
                if name == "ALL":
                    revoked_before = before
                elif name.startswith("FAMILY#"):
                    families.add(name.removeprefix("FAMILY#"))
                else:
                    token_ids.add(name.removeprefix("JTI#"))
        return Revocations(revoked_before=revoked_before, families=frozenset(families), token_ids=frozenset(token_ids))

    def delete_user_sessions(self, tenant: str, user: str) -> int:
        self.faults.enter("delete_user_sessions")
        with self._lock:
            families = [key for key in self._families if key[:2] == (tenant, user)]
            pointers = [h for h, p in self._pointers.items() if (p.tenant, p.user) == (tenant, user)]
            for key in families:
                del self._families[key]
            for token_hash in pointers:
                del self._pointers[token_hash]
        return len(families) + len(pointers)

    # --- published keys -------------------------------------------------------------------------------------------

    def published_jwks(self) -> tuple[dict[str, Any], int]:
        self.faults.enter("published_jwks")
        return self._jwks

    def publish_jwks(self, jwks: dict[str, Any], expected_version: int) -> int:
        self.faults.enter("publish_jwks")
        with self._lock:
            stored, version = self._jwks
            if version != expected_version or self.faults.conflicts("publish_jwks"):
                current = {"jwks": stored, "version": version} if version else None
                raise VersionConflictError(current, version or None)
            self._jwks = (jwks, version + 1)
            return version + 1

    @staticmethod
    def _pointer(family: Family) -> RefreshPointer:
        return RefreshPointer(
            token_hash=family.current_hash,
            tenant=family.tenant,
            user=family.user,
            family_id=family.family_id,
            expires_at=math.ceil(family.absolute_expires_at),
        )


class FakeSigningKeySecret:
    """``SigningKeySecret`` in memory."""

    def __init__(self, keyset: KeySet | None = None) -> None:
        self.faults = Faults()
        self._keyset = keyset or KeySet()

    def load(self) -> KeySet:
        self.faults.enter("load")
        return self._keyset

    def save(self, keyset: KeySet) -> None:
        self.faults.enter("save")
        self._keyset = keyset
