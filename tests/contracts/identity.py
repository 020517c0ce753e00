"""The contract of ``IdentityStorePort`` and ``SigningKeySecret``."""

from __future__ import annotations

from typing import ClassVar

import pytest

from firstmile import errors as e
from firstmile.audit.models import AuditEvent
from firstmile.audit.ports import AuditLog
from firstmile.errors import VersionConflictError
from firstmile.identity.keys import KeySet, RotationPolicy, advance
from firstmile.identity.models import ApiClient, Family, Tenant
from firstmile.identity.ports import IdentityStorePort, SigningKeySecret
from firstmile.identity.store import AlreadyExistsError
from tests.factories import NOW

TENANT, USER = "t-acme", "u-1"
TTL = 900


def event(action: str = "tenant.created", target: str = "tenant:t-acme", tenant: str = TENANT) -> AuditEvent:
    return AuditEvent(tenant=tenant, actor="operator:ops", action=action, target=target)


def tenant(tenant_id: str = TENANT) -> Tenant:
    return Tenant(tenant_id=tenant_id, name="Acme", created_at=NOW, created_by="operator:ops")


def client(n: int = 1, tenant_id: str = TENANT, *, at: float = NOW) -> ApiClient:
    return ApiClient(
        client_id=f"fmc_{n:022d}",
        tenant_id=tenant_id,
        name=f"backend {n}",
        secret_hash=f"{n:064x}",
        allowed_roles=("user",),
        created_at=at,
    )


def family(n: int = 1, user: str = USER, *, token: str | None = None, now: float = NOW) -> Family:
    return Family(
        family_id=f"ses_{n:022d}",
        tenant=TENANT,
        user=user,
        client_id="fmc_" + "1" * 22,
        roles=("user",),
        current_hash=token or f"{n:064x}",
        created_at=now,
        absolute_expires_at=now + 30 * 86400,
        idle_expires_at=now + 7 * 86400,
    )


def rotated(before: Family, token: str, now: float) -> Family:
    return before.model_copy(
        update={
            "current_hash": token,
            "previous_hash": before.current_hash,
            "previous_rotated_at": now,
            "generation": before.generation + 1,
            "idle_expires_at": now + 7 * 86400,
        }
    )


class IdentityStoreContract:
    """Subclasses provide ``identity_store`` and the ``audit_log`` its audited changes append to."""

    implementation: ClassVar[type]

    def test_a_tenant_is_created_once_with_its_entry(
        self, identity_store: IdentityStorePort, audit_log: AuditLog
    ) -> None:
        assert identity_store.create_tenant(tenant(), event=event()) == tenant()

        with pytest.raises(AlreadyExistsError):
            identity_store.create_tenant(tenant().model_copy(update={"name": "Other"}), event=event())

        assert identity_store.get_tenant(TENANT) == tenant()
        assert identity_store.get_tenant("t-nobody") is None
        assert [e.action for e in audit_log.list_entries(TENANT).items] == ["tenant.created"]

    def test_clients_are_listed_oldest_first_a_page_at_a_time_and_only_the_tenants(
        self, identity_store: IdentityStorePort
    ) -> None:
        created = [client(n, at=NOW + n) for n in range(1, 6)]
        for made in reversed(created):
            identity_store.create_client(made, event=event("client.created", made.client_id))
        identity_store.create_client(client(9, "t-beta"), event=event("client.created", "c", tenant="t-beta"))

        listed, cursor = [], None
        for _ in range(5):
            page = identity_store.list_clients(TENANT, limit=2, cursor=cursor)
            listed += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        first = identity_store.list_clients(TENANT, limit=2)

        assert listed == created
        assert identity_store.get_client(created[0].client_id) == created[0]
        with pytest.raises(e.DomainError):
            identity_store.list_clients("t-beta", cursor=first.next_cursor)
        with pytest.raises(AlreadyExistsError):
            identity_store.create_client(created[0], event=event("client.created", "again"))

    def test_a_client_is_replaced_only_from_the_secret_stored(
        self, identity_store: IdentityStorePort, audit_log: AuditLog
    ) -> None:
        before = identity_store.create_client(client(), event=event("client.created", "c"))
        after = before.model_copy(update={"secret_hash": "f" * 64, "previous_secret_hash": before.secret_hash})

        assert identity_store.replace_client(before, after, event=event("client.secret_rotated", "c")) == after
        with pytest.raises(VersionConflictError):
            identity_store.replace_client(before, after, event=event("client.secret_rotated", "again"))

        assert identity_store.get_client(before.client_id) == after
        assert [e.target for e in audit_log.list_entries(TENANT).items] == ["c", "c"]

    def test_disabling_is_idempotent_and_a_missing_client_is_none(
        self, identity_store: IdentityStorePort, audit_log: AuditLog
    ) -> None:
        stored = identity_store.create_client(client(), event=event("client.created", "c"))

        first = identity_store.disable_client(stored.client_id, NOW + 10, event=event("client.disabled", "c"))
        again = identity_store.disable_client(stored.client_id, NOW + 20, event=event("client.disabled", "c"))
        missing = identity_store.disable_client("fmc_" + "9" * 22, NOW, event=event("client.disabled", "none"))

        assert first is not None and first.disabled and first.disabled_at == NOW + 10
        assert again == first
        assert missing is None
        assert "none" not in [e.target for e in audit_log.list_entries(TENANT).items]
        with pytest.raises(VersionConflictError):
            identity_store.replace_client(stored, stored.model_copy(update={"secret_hash": "e" * 64}), event=event())

    def test_a_family_and_its_first_pointer_are_stored_together(self, identity_store: IdentityStorePort) -> None:
        started = family()

        identity_store.start_family(started)

        pointer = identity_store.find_pointer(started.current_hash)
        assert pointer is not None
        assert (pointer.tenant, pointer.user, pointer.family_id) == (TENANT, USER, started.family_id)
        assert pointer.expires_at == started.absolute_expires_at
        assert identity_store.get_family(TENANT, USER, started.family_id) == started
        assert identity_store.list_families(TENANT, USER) == [started]
        assert identity_store.find_pointer("0" * 64) is None

    def test_of_two_rotations_with_one_token_exactly_one_wins(self, identity_store: IdentityStorePort) -> None:
        started = family()
        identity_store.start_family(started)

        won = identity_store.rotate_family(started, rotated(started, "a" * 64, NOW + 1), NOW + 1)
        lost = identity_store.rotate_family(started, rotated(started, "b" * 64, NOW + 2), NOW + 2)

        assert (won, lost) == (True, False)
        stored = identity_store.get_family(TENANT, USER, started.family_id)
        assert stored is not None
        assert (stored.current_hash, stored.previous_hash, stored.generation) == ("a" * 64, started.current_hash, 1)
        assert identity_store.find_pointer("a" * 64) is not None
        assert identity_store.find_pointer("b" * 64) is None
        # The first token's pointer stays: a reuse of it must still be recognised
        assert identity_store.find_pointer(started.current_hash) is not None

    def test_a_revoked_or_expired_family_does_not_rotate(self, identity_store: IdentityStorePort) -> None:
        live, idle = family(1), family(2)
        identity_store.start_family(live)
        identity_store.start_family(idle)

        identity_store.revoke_family(
            TENANT, USER, live.family_id, now=NOW + 1, reason="revoked", access_ttl_seconds=TTL
        )
        after_idle = idle.idle_expires_at + 1

        assert not identity_store.rotate_family(live, rotated(live, "a" * 64, NOW + 2), NOW + 2)
        assert not identity_store.rotate_family(idle, rotated(idle, "b" * 64, after_idle), after_idle)

    def test_a_revocation_revokes_the_family_once_and_its_access_tokens_until_they_expire(
        self, identity_store: IdentityStorePort, audit_log: AuditLog
    ) -> None:
        started = family()
        identity_store.start_family(started)

        first = identity_store.revoke_family(
            TENANT,
            USER,
            started.family_id,
            now=NOW,
            reason="logout",
            access_ttl_seconds=TTL,
            event=event("session.revoked", "s"),
        )
        again = identity_store.revoke_family(
            TENANT, USER, started.family_id, now=NOW + 5, reason="other", access_ttl_seconds=TTL
        )
        missing = identity_store.revoke_family(
            TENANT, USER, "ses_" + "9" * 22, now=NOW, reason="revoked", access_ttl_seconds=TTL
        )

        assert first is not None and (first.revoked, first.revoked_at, first.revoked_reason) == (True, NOW, "logout")
        assert again == first
        assert missing is None
        live = identity_store.revocations(TENANT, USER, NOW + TTL)
        assert live.families == frozenset({started.family_id, "ses_" + "9" * 22})
        # Each revocation lasts from its own moment: the second one, at NOW + 5, holds 5 s longer
        assert identity_store.revocations(TENANT, USER, NOW + 5 + TTL + 61).families == frozenset()
        assert [e.action for e in audit_log.list_entries(TENANT).items] == ["session.revoked"]

    def test_signing_out_everywhere_marks_every_token_and_revokes_every_live_session(
        self, identity_store: IdentityStorePort, audit_log: AuditLog
    ) -> None:
        for n in (1, 2, 3):
            identity_store.start_family(family(n))
        identity_store.start_family(family(4, user="u-2"))
        identity_store.revoke_family(TENANT, USER, family(3).family_id, now=NOW, reason="x", access_ttl_seconds=TTL)

        revoked = identity_store.revoke_user(
            TENANT, USER, now=NOW + 10, access_ttl_seconds=TTL, reason="revoked", event=event("user.sessions_revoked")
        )

        assert sorted(revoked) == [family(1).family_id, family(2).family_id]
        assert all(f.revoked for f in identity_store.list_families(TENANT, USER))
        assert not any(f.revoked for f in identity_store.list_families(TENANT, "u-2"))
        assert identity_store.revocations(TENANT, USER, NOW + 10).revoked_before == int(NOW + 10)
        # A mark is never moved backwards
        identity_store.revoke_user(
            TENANT, USER, now=NOW + 5, access_ttl_seconds=TTL, reason="revoked", event=event("user.sessions_revoked")
        )
        assert identity_store.revocations(TENANT, USER, NOW + 10).revoked_before == int(NOW + 10)
        assert audit_log.list_entries(TENANT).items[0].action == "user.sessions_revoked"

    def test_a_revoked_access_token_is_listed_until_it_expires(self, identity_store: IdentityStorePort) -> None:
        identity_store.revoke_token(TENANT, USER, "jti-1", NOW + 100)

        assert identity_store.revocations(TENANT, USER, NOW).token_ids == frozenset({"jti-1"})
        assert identity_store.revocations(TENANT, USER, NOW + 100).token_ids == frozenset()
        assert identity_store.revocations(TENANT, "u-2", NOW).token_ids == frozenset()

    def test_erasing_a_users_sessions_leaves_only_the_revocations_until_they_expire(
        self, identity_store: IdentityStorePort
    ) -> None:
        started = family()
        identity_store.start_family(started)
        identity_store.rotate_family(started, rotated(started, "a" * 64, NOW + 1), NOW + 1)
        identity_store.revoke_token(TENANT, USER, "jti-1", NOW + 100)
        identity_store.start_family(family(2, user="u-2"))

        erased = identity_store.delete_user_sessions(TENANT, USER)

        # The family and two pointers; the revocation still refuses the access token it names until it expires
        assert erased == 3
        assert identity_store.list_families(TENANT, USER) == []
        assert identity_store.find_pointer(started.current_hash) is None
        assert identity_store.find_pointer("a" * 64) is None
        assert identity_store.revocations(TENANT, USER, NOW).token_ids == frozenset({"jti-1"})
        assert len(identity_store.list_families(TENANT, "u-2")) == 1

    def test_the_published_keys_are_versioned(self, identity_store: IdentityStorePort) -> None:
        assert identity_store.published_jwks() == ({"keys": []}, 0)

        first = identity_store.publish_jwks({"keys": [{"kid": "k1"}]}, 0)
        with pytest.raises(VersionConflictError):
            identity_store.publish_jwks({"keys": [{"kid": "k2"}]}, 0)
        second = identity_store.publish_jwks({"keys": [{"kid": "k2"}]}, first)

        assert (first, second) == (1, 2)
        assert identity_store.published_jwks() == ({"keys": [{"kid": "k2"}]}, 2)


class SigningKeySecretContract:
    """Subclasses provide ``key_secret``: a secret that holds no key set yet."""

    implementation: ClassVar[type]

    def test_an_empty_secret_loads_as_no_keys_and_a_saved_set_loads_back(self, key_secret: SigningKeySecret) -> None:
        assert key_secret.load() == KeySet()
        keyset, _ = advance(KeySet(), NOW, RotationPolicy())

        key_secret.save(keyset)

        assert key_secret.load() == keyset
