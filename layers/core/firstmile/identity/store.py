"""Identity in the main table: tenants, API clients, sessions, refresh pointers, revocations, published keys.

Key formats (see docs/data-model.md):
- tenant: ``pk = TENANT#<t>``, ``sk = TENANT``;
- API client: ``pk = CLIENT#<client id>``, ``sk = CLIENT``; ``gsi1pk = TENANT#<t>#CLIENTS``,
  ``gsi1sk = CLIENT#<created ms>#<client id>`` (a tenant's clients);
- session (refresh-token family): ``pk = TENANT#<t>#USER#<u>``, ``sk = FAMILY#<family id>``, ``expires_at`` = the
  family's absolute expiry;
- refresh pointer: ``pk = REFRESH#<sha256 of the token>``, ``sk = REFRESH`` -> tenant, user, family id;
  ``gsi1pk = TENANT#<t>#USER#<u>#REFRESH``, ``gsi1sk = <family id>#<generation>`` (to erase a user's pointers);
- revocations, beside the user's partition (``pk = TENANT#<t>#USER#<u>#REVOKED``, so an erasure empties the user's
  partition while they still refuse the tokens issued before it): ``sk = REVOKED#ALL`` (``revoked_before``),
  ``REVOKED#FAMILY#<family id>``, ``REVOKED#JTI#<jti>``, each expiring once no access token it concerns can still
  be alive;
- published public keys: ``pk = SIGNING_KEYS``, ``sk = JWKS`` (versioned).

A rotation is one transaction: the family's update, conditioned on the presented hash still being current and the
family being alive and unrevoked, plus the new token's pointer. Two refreshes with one token cannot both win.

Audited changes (a tenant or client created, a secret rotated, a client disabled, a session revoked, a user signed out
everywhere) append their entry in the same transaction as the change (``AuditStore.transact``).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from firstmile.audit.models import AuditEvent
from firstmile.audit.store import AuditStore
from firstmile.errors import DependencyUnavailableError, VersionConflictError
from firstmile.identifiers import user_partition
from firstmile.identity.models import ApiClient, Family, RefreshPointer, Revocations, Tenant
from firstmile.platform.cursors import DEFAULT_LIMIT, Page
from firstmile.platform.gateway import CONDITION_FAILED, VERSION, TableGateway, partition
from firstmile.platform.items import plain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_JWKS_KEY = {"pk": "SIGNING_KEYS", "sk": "JWKS"}
_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "kind", "expires_at", VERSION)


class AlreadyExistsError(Exception):
    """A create found the item already there."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} already exists")
        self.what = what


def _tenant_key(tenant_id: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant_id}", "sk": "TENANT"}


def _client_key(client_id: str) -> dict[str, str]:
    return {"pk": f"CLIENT#{client_id}", "sk": "CLIENT"}


def _clients_index(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#CLIENTS"


def revocations_partition(tenant: str, user: str) -> str:
    """Where a user's revocations are kept: beside their partition, not in it (decision 0083)."""
    return f"{user_partition(tenant, user)}#REVOKED"


def _family_key(tenant: str, user: str, family_id: str) -> dict[str, str]:
    return {"pk": user_partition(tenant, user), "sk": f"FAMILY#{family_id}"}


def _pointer_key(token_hash: str) -> dict[str, str]:
    return {"pk": f"REFRESH#{token_hash}", "sk": "REFRESH"}


def _pointers_index(tenant: str, user: str) -> str:
    return f"TENANT#{tenant}#USER#{user}#REFRESH"


def _number(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def _epoch(value: float) -> int:
    """A TTL value: whole epoch seconds, rounded up so nothing expires early."""
    return math.ceil(value)


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in item.items() if k not in _KEY_ATTRIBUTES}


class IdentityStore:
    """Every read and write of identity items. Audited changes append their entry to ``audit`` (the chains in the
    same table) in their own transaction."""

    def __init__(self, table: Table | TableGateway, *, audit: AuditStore | None = None) -> None:
        self._table = TableGateway.of(table)
        self._audit = audit or AuditStore(self._table)

    # --- tenants ------------------------------------------------------------------------------------------------

    def record_event(self, event: AuditEvent) -> None:
        """Append ``event``, which records something that changed nothing here (a refused client authentication)."""
        self._audit.record(event)

    def create_tenant(self, tenant: Tenant, *, event: AuditEvent) -> Tenant:
        """Store a new tenant and append ``event``, in one transaction; ``AlreadyExistsError`` when the id is taken."""
        item = {**_tenant_key(tenant.tenant_id), "kind": "tenant", **tenant.model_dump()}
        item["created_at"] = _number(tenant.created_at)
        if self._audit.transact([self._table.put_new_action(item)], event) is not None:
            raise AlreadyExistsError(f"tenant {tenant.tenant_id}")
        return tenant

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant, if it exists."""
        item = self._get(_tenant_key(tenant_id))
        return Tenant.model_validate(_fields(item)) if item else None

    # --- API clients --------------------------------------------------------------------------------------------

    def create_client(self, client: ApiClient, *, event: AuditEvent) -> ApiClient:
        """Store a new API client (its secret's hash only) and append ``event``, in one transaction."""
        if self._audit.transact([self._table.put_new_action(self._client_item(client))], event) is not None:
            raise AlreadyExistsError(f"client {client.client_id}")
        return client

    def get_client(self, client_id: str) -> ApiClient | None:
        """The client, read consistently (a disabled client must be refused at once)."""
        item = self._get(_client_key(client_id))
        return ApiClient.model_validate(_fields(item)) if item else None

    def list_clients(self, tenant_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page[ApiClient]:
        """One page of a tenant's clients, oldest first."""
        clients = _clients_index(tenant_id)
        items, next_cursor = self._table.query_page(
            partition(clients, index="gsi1"), limit=limit, cursor=cursor, scope=clients
        )
        return Page[ApiClient](
            items=[ApiClient.model_validate(_fields(item)) for item in items], next_cursor=next_cursor
        )

    def replace_client(self, before: ApiClient, after: ApiClient, *, event: AuditEvent) -> ApiClient:
        """Write ``after`` over ``before`` (secret rotation) and append ``event``, in one transaction;
        ``VersionConflictError`` when the client changed meanwhile."""
        put = self._table.put_action(
            self._client_item(after),
            condition="secret_hash = :before AND disabled = :false",
            values={":before": before.secret_hash, ":false": False},
        )
        if self._audit.transact([put], event) is not None:
            raise VersionConflictError(None, None)
        return after

    def disable_client(self, client_id: str, now: float, *, event: AuditEvent) -> ApiClient | None:
        """Disable the client (idempotent) and append ``event``, in one transaction; the client as stored now, or
        ``None`` when there is no such client."""
        disable = self._table.update_action(
            _client_key(client_id),
            "SET disabled = :true, disabled_at = if_not_exists(disabled_at, :now)",
            condition="attribute_exists(pk)",
            values={":true": True, ":now": _number(now)},
        )
        if self._audit.transact([disable], event) is not None:
            return None
        return self.get_client(client_id)

    # --- sessions -----------------------------------------------------------------------------------------------

    def start_family(self, family: Family) -> None:
        """Store a new family and the pointer of its first refresh token, together."""
        reasons = self._table.transact(
            [
                self._table.put_new_action(self._family_item(family)),
                self._table.put_new_action(self._pointer_item(family)),
            ]
        )
        if reasons is not None:
            # A new family's ids are random: only a write of this very family, or contention, can refuse it.
            raise DependencyUnavailableError("table", "TransactionCanceledException")

    def find_pointer(self, token_hash: str) -> RefreshPointer | None:
        """Which family the token hashing to ``token_hash`` belongs to (any token ever issued, until expiry)."""
        item = self._get(_pointer_key(token_hash))
        if not item:
            return None
        return RefreshPointer(
            token_hash=token_hash,
            tenant=str(item["tenant"]),
            user=str(item["user"]),
            family_id=str(item["family_id"]),
            expires_at=float(item["expires_at"]),
        )

    def get_family(self, tenant: str, user: str, family_id: str) -> Family | None:
        """The family, read consistently."""
        item = self._get(_family_key(tenant, user, family_id))
        return Family.model_validate(_fields(item)) if item else None

    def list_families(self, tenant: str, user: str) -> list[Family]:
        """Every family of a user (revoked and expired ones until the TTL sweeper removes them)."""
        return [
            Family.model_validate(_fields(item))
            for item in self._table.query_all(partition(user_partition(tenant, user)).begins_with("FAMILY#"))
        ]

    def rotate_family(self, before: Family, after: Family, now: float) -> bool:
        """Swap the family's current token for ``after.current_hash``, atomically; ``False`` when it lost.

        The update only applies while ``before.current_hash`` is still current and the family is alive and not
        revoked, so of two concurrent rotations with the same token exactly one succeeds.
        """
        update = self._table.update_action(
            _family_key(before.tenant, before.user, before.family_id),
            "SET current_hash = :new, previous_hash = :presented, previous_rotated_at = :now, "
            "generation = :generation, idle_expires_at = :idle",
            condition="current_hash = :presented AND revoked = :false AND absolute_expires_at > :now "
            "AND idle_expires_at > :now",
            values={
                ":new": after.current_hash,
                ":presented": before.current_hash,
                ":now": _number(now),
                ":generation": after.generation,
                ":idle": _number(after.idle_expires_at),
                ":false": False,
            },
        )
        # Of two rotations with one token, the loser meets either the winner's changed hash (a failed condition) or
        # the winner's transaction itself, sent again until it stays contended: both lose.
        return self._table.transact([update, self._table.put_new_action(self._pointer_item(after))]) is None

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
        """Revoke one session: its refresh tokens at once, its access tokens through the revocation item; with
        ``event`` appended in the same transaction when the revocation is audited on its own.

        Returns the family as it is now (``None`` when it does not exist; the revocation item is written anyway,
        so access tokens naming it stop working).
        """
        revocation = self._table.put_action(
            self._revocation(tenant, user, f"REVOKED#FAMILY#{family_id}", now + access_ttl_seconds + 60)
        )
        revoke = self._table.update_action(
            _family_key(tenant, user, family_id),
            "SET revoked = :true, revoked_at = if_not_exists(revoked_at, :now), "
            "revoked_reason = if_not_exists(revoked_reason, :reason)",
            condition="attribute_exists(pk)",
            values={":true": True, ":now": _number(now), ":reason": reason},
        )
        if not self._write([revocation, revoke], event):
            # No such family: the revocation item alone, for access tokens that name it.
            self._write([revocation], event)
            return None
        return self.get_family(tenant, user, family_id)

    def revoke_user(
        self, tenant: str, user: str, *, now: float, access_ttl_seconds: int, reason: str, event: AuditEvent
    ) -> list[str]:
        """Sign the user out everywhere: every token issued until ``now`` (one mark, written with ``event``'s entry
        in one transaction), then every session that mark leaves alive. Returns the sessions revoked."""
        mark = self._table.update_action(
            {"pk": revocations_partition(tenant, user), "sk": "REVOKED#ALL"},
            "SET revoked_before = :before, expires_at = :expires, kind = :kind",
            # Never move the mark backwards (a slow container's clock).
            condition="attribute_not_exists(revoked_before) OR revoked_before < :before",
            values={":before": int(now), ":expires": _epoch(now + access_ttl_seconds + 60), ":kind": "revocation"},
        )
        if not self._write([mark], event):
            # A later mark is already stored and covers these tokens; the action is still recorded.
            self._audit.record(event)
        revoked = []
        for family in self.list_families(tenant, user):
            if not family.revoked:
                self.revoke_family(
                    tenant, user, family.family_id, now=now, reason=reason, access_ttl_seconds=access_ttl_seconds
                )
                revoked.append(family.family_id)
        return revoked

    def revoke_token(self, tenant: str, user: str, jti: str, expires_at: float) -> None:
        """Revoke one access token until it would have expired anyway."""
        self._table.put(self._revocation(tenant, user, f"REVOKED#JTI#{jti}", expires_at))

    def revocations(self, tenant: str, user: str, now: float) -> Revocations:
        """Every live revocation of a user, with one Query."""
        families, token_ids, revoked_before = set(), set(), None
        for item in self._table.query_all(partition(revocations_partition(tenant, user)).begins_with("REVOKED#")):
            if float(item.get("expires_at", 0)) <= now:
                continue  # expired; the TTL sweeper has not removed it yet
            sk = str(item["sk"])
            if sk == "REVOKED#ALL":
                revoked_before = int(item["revoked_before"])
            elif sk.startswith("REVOKED#FAMILY#"):
                families.add(sk.removeprefix("REVOKED#FAMILY#"))
            elif sk.startswith("REVOKED#JTI#"):
                token_ids.add(sk.removeprefix("REVOKED#JTI#"))
        return Revocations(revoked_before=revoked_before, families=frozenset(families), token_ids=frozenset(token_ids))

    def delete_user_sessions(self, tenant: str, user: str) -> int:
        """Erase a user's sessions and refresh pointers (for erasure); how many items. The revocations stay until they
        expire (access TTL + 60 s at most): they are what refuses the access tokens issued before."""
        personal = partition(user_partition(tenant, user))
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for condition in (
                personal.begins_with("FAMILY#"),
                partition(_pointers_index(tenant, user), index="gsi1"),
            )
            for item in self._table.query_all(condition)
        ]
        self._table.delete_many(keys)
        return len(keys)

    # --- published keys -------------------------------------------------------------------------------------------

    def published_jwks(self) -> tuple[dict[str, Any], int]:
        """The JWKS verifiers use, and its version (0 before the first publication)."""
        item = self._get(_JWKS_KEY, consistent=False)
        if not item:
            return {"keys": []}, 0
        return json.loads(str(item["jwks"])), int(item[VERSION])

    def publish_jwks(self, jwks: dict[str, Any], expected_version: int) -> int:
        """Replace the published JWKS if it is still at ``expected_version``; the new version."""
        stored = self._table.put_if_version(
            {**_JWKS_KEY, "kind": "published_keys", "jwks": json.dumps(jwks)}, expected_version
        )
        return int(stored[VERSION])

    # --- plumbing -------------------------------------------------------------------------------------------------

    def _family_item(self, family: Family) -> dict[str, Any]:
        body = family.model_dump()
        for name in ("created_at", "absolute_expires_at", "idle_expires_at", "previous_rotated_at", "revoked_at"):
            if body[name] is not None:
                body[name] = _number(body[name])
        body["roles"] = list(family.roles)
        body = {k: v for k, v in body.items() if v is not None}
        return {
            **_family_key(family.tenant, family.user, family.family_id),
            "kind": "session_family",
            **body,
            "expires_at": _epoch(family.absolute_expires_at),
        }

    def _pointer_item(self, family: Family) -> dict[str, Any]:
        return {
            **_pointer_key(family.current_hash),
            "gsi1pk": _pointers_index(family.tenant, family.user),
            "gsi1sk": f"{family.family_id}#{family.generation:08d}",
            "kind": "refresh_pointer",
            "tenant": family.tenant,
            "user": family.user,
            "family_id": family.family_id,
            "expires_at": _epoch(family.absolute_expires_at),
        }

    def _client_item(self, client: ApiClient) -> dict[str, Any]:
        return {
            **_client_key(client.client_id),
            "gsi1pk": _clients_index(client.tenant_id),
            "gsi1sk": f"CLIENT#{int(client.created_at * 1000):015d}#{client.client_id}",
            "kind": "api_client",
            **_client_attributes(client),
        }

    def _revocation(self, tenant: str, user: str, sk: str, expires_at: float) -> dict[str, Any]:
        """A revocation item (written unconditionally: writing one twice changes nothing)."""
        item: dict[str, Any] = {
            "pk": revocations_partition(tenant, user),
            "sk": sk,
            "kind": "revocation",
            "expires_at": _epoch(expires_at),
        }
        return item

    def _write(self, items: list[dict[str, Any]], event: AuditEvent | None) -> bool:
        """``items`` in one transaction, with ``event``'s entry when given; ``False`` when one of their conditions
        failed. A transaction that keeps meeting concurrent ones (a rotation of the same family) is sent again, then
        answered as ``DependencyUnavailableError``: it is not mistaken for a failed condition."""
        reasons = self._table.transact(items) if event is None else self._audit.transact(items, event)
        if reasons is None:
            return True
        if any(reason.get("Code") == CONDITION_FAILED for reason in reasons):
            return False
        raise DependencyUnavailableError("table", "the transaction stayed contended")

    def _get(self, key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
        return self._table.get(key, consistent=consistent)


def _client_attributes(client: ApiClient) -> dict[str, Any]:
    body = client.model_dump()
    for name in ("created_at", "previous_secret_expires_at", "secret_rotated_at", "disabled_at"):
        if body[name] is not None:
            body[name] = _number(body[name])
    body["allowed_roles"] = list(client.allowed_roles)
    return {k: v for k, v in body.items() if v is not None}
