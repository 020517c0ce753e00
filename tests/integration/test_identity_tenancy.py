"""Tenants and API clients against the emulator: secrets shown once, rotation grace, disabling, bootstrap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from firstmile import errors as e
from firstmile.audit.store import AuditStore
from firstmile.composition import reset
from firstmile.errors import NotFoundError
from firstmile.identity import clients
from firstmile.identity.keys import KeySet, RotationPolicy, advance
from firstmile.identity.models import PLATFORM_TENANT, ApiClientCreate, ClientCredentialsGrant, TenantCreate
from firstmile.identity.sessions import SessionPolicy, SessionService
from firstmile.identity.store import IdentityStore
from firstmile.identity.tenancy import OperatorAlreadyBootstrappedError, TenancyService
from firstmile.platform import aws
from tests.factories import NOW, FakeClock, body_of
from tests.integration.conftest import Deployment
from tests.integration.routes import RouteClient

OPERATOR = "operator:fmc_test"


@dataclass
class Operators:
    deployment: Deployment
    clock: FakeClock
    store: IdentityStore
    audit: AuditStore
    tenancy: TenancyService

    def sessions(self) -> SessionService:
        keyset, _ = advance(KeySet(), NOW, RotationPolicy())
        key = keyset.current
        assert key is not None
        return SessionService(
            self.store,
            signing_key=lambda: key,
            policy=SessionPolicy(issuer="urn:i", audience="urn:a"),
            clock=self.clock,
        )


@pytest.fixture
def operators(deployment: Deployment) -> Operators:
    clock = FakeClock()
    table = aws.table(deployment.table_name)
    audit = AuditStore(table, clock=clock)
    store = IdentityStore(table, audit=audit)
    return Operators(deployment, clock, store, audit, TenancyService(store, clock=clock, secret_grace_seconds=86400))


def test_a_tenant_is_created_once(operators: Operators) -> None:
    tenant = operators.tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor=OPERATOR)

    with pytest.raises(e.DomainError) as duplicate:
        operators.tenancy.create_tenant(TenantCreate(name="Other Acme", tenant_id="t-acme"), actor=OPERATOR)

    assert duplicate.value.code == "RES_TENANT_EXISTS"
    assert operators.store.get_tenant("t-acme") == tenant
    generated = operators.tenancy.create_tenant(TenantCreate(name="Beta"), actor=OPERATOR)
    assert generated.tenant_id.startswith("t-") and generated.tenant_id != "t-acme"


def test_the_client_secret_is_shown_once_and_stored_only_as_a_hash(operators: Operators) -> None:
    operators.tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor=OPERATOR)

    issued = operators.tenancy.create_client("t-acme", ApiClientCreate(name="backend"), actor=OPERATOR)

    stored = operators.deployment.table.get_item(Key={"pk": f"CLIENT#{issued.client.client_id}", "sk": "CLIENT"})
    assert issued.client_secret.startswith("fms_")
    assert issued.client_secret not in repr(stored["Item"])
    assert stored["Item"]["secret_hash"] == clients.hash_secret(issued.client_secret)
    assert "hash" not in issued.client.model_dump_json()


def test_a_client_for_an_unknown_tenant_is_refused(operators: Operators) -> None:
    with pytest.raises(NotFoundError) as missing:
        operators.tenancy.create_client("t-nobody", ApiClientCreate(name="x"), actor=OPERATOR)
    assert missing.value.code == e.RES_TENANT_NOT_FOUND


@pytest.fixture
def operator_routes() -> Iterator[None]:
    """The operator routes' services built afresh for this test's deployment."""
    reset()
    yield
    reset()


@pytest.mark.usefixtures("operator_routes")
def test_listing_the_clients_of_a_tenant_that_does_not_exist_is_not_found(
    operators: Operators, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tenant without clients, and an operator
    operators.tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor=OPERATOR)
    operator = RouteClient(monkeypatch, tenant=PLATFORM_TENANT, subject="ops-1", roles="operator")

    # When the operator lists the clients of a tenant that does not exist, and of the one that does
    missing = operator.call("operator_client_list", params={"tenant_id": "t-nobody"})
    empty = operator.call("operator_client_list", params={"tenant_id": "t-acme"})

    # Then the first is not found (not an empty list that looks like a tenant), the second an empty page
    assert missing["statusCode"] == 404
    assert missing["headers"]["Content-Type"] == "application/problem+json"
    assert body_of(missing)["code"] == "RES_TENANT_NOT_FOUND"
    assert empty["statusCode"] == 200
    assert body_of(empty)["items"] == []


def test_a_tenants_clients_are_listed_in_pages_and_only_its_own(operators: Operators) -> None:
    for tenant in ("t-acme", "t-beta"):
        operators.tenancy.create_tenant(TenantCreate(name=tenant, tenant_id=tenant), actor=OPERATOR)
    created = []
    for n in range(3):
        operators.clock.now += 1
        created.append(
            operators.tenancy.create_client("t-acme", ApiClientCreate(name=f"c{n}"), actor=OPERATOR).client.client_id
        )
    operators.tenancy.create_client("t-beta", ApiClientCreate(name="beta"), actor=OPERATOR)

    first = operators.tenancy.list_clients("t-acme", limit=2)
    second = operators.tenancy.list_clients("t-acme", limit=2, cursor=first.next_cursor)

    assert [c.client_id for c in first.items + second.items] == created
    assert second.next_cursor is None
    with pytest.raises(e.DomainError):
        operators.tenancy.list_clients("t-beta", cursor=first.next_cursor)


def test_a_rotated_secret_replaces_the_old_one_after_the_grace_period(operators: Operators) -> None:
    # Given a client whose secret is rotated
    operators.tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor=OPERATOR)
    issued = operators.tenancy.create_client("t-acme", ApiClientCreate(name="backend"), actor=OPERATOR)
    client_id = issued.client.client_id
    rotated = operators.tenancy.rotate_client_secret("t-acme", client_id, actor=OPERATOR)
    sessions = operators.sessions()

    # Then both secrets work during the grace period
    assert rotated.client_secret != issued.client_secret
    assert rotated.client.previous_secret_expires_at == NOW + 86400
    assert sessions.authenticate_client(client_id, issued.client_secret).client_id == client_id
    assert sessions.authenticate_client(client_id, rotated.client_secret).client_id == client_id

    # ...and only the new one afterwards
    operators.clock.now += 86400
    with pytest.raises(e.DomainError):
        sessions.authenticate_client(client_id, issued.client_secret)
    assert sessions.authenticate_client(client_id, rotated.client_secret).client_id == client_id


def test_a_client_is_managed_only_through_its_own_tenant(operators: Operators) -> None:
    for tenant in ("t-acme", "t-beta"):
        operators.tenancy.create_tenant(TenantCreate(name=tenant, tenant_id=tenant), actor=OPERATOR)
    client_id = operators.tenancy.create_client("t-acme", ApiClientCreate(name="a"), actor=OPERATOR).client.client_id

    with pytest.raises(NotFoundError) as rotated:
        operators.tenancy.rotate_client_secret("t-beta", client_id, actor=OPERATOR)
    with pytest.raises(NotFoundError) as disabled:
        operators.tenancy.disable_client("t-beta", client_id, actor=OPERATOR)
    assert rotated.value.code == disabled.value.code == e.RES_CLIENT_NOT_FOUND


def test_a_disabled_client_is_refused_at_once(operators: Operators) -> None:
    operators.tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor=OPERATOR)
    issued = operators.tenancy.create_client("t-acme", ApiClientCreate(name="backend"), actor=OPERATOR)

    view = operators.tenancy.disable_client("t-acme", issued.client.client_id, actor=OPERATOR)

    assert view.disabled
    with pytest.raises(e.DomainError) as refused:
        operators.sessions().authenticate_client(issued.client.client_id, issued.client_secret)
    assert refused.value.code == "AUTH_CLIENT_INVALID"
    with pytest.raises(NotFoundError):
        operators.tenancy.rotate_client_secret("t-acme", issued.client.client_id, actor=OPERATOR)


def test_operator_actions_are_audited_in_the_tenants_chain(operators: Operators) -> None:
    operators.tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor=OPERATOR)
    client_id = operators.tenancy.create_client("t-acme", ApiClientCreate(name="b"), actor=OPERATOR).client.client_id
    operators.tenancy.rotate_client_secret("t-acme", client_id, actor=OPERATOR, correlation_id="c-1")
    operators.tenancy.disable_client("t-acme", client_id, actor=OPERATOR)

    entries = operators.audit.list_entries("t-acme").items

    assert [e.action for e in reversed(entries)] == [
        "tenant.created",
        "client.created",
        "client.secret_rotated",
        "client.disabled",
    ]
    assert {e.actor for e in entries} == {OPERATOR}
    assert operators.audit.verify("t-acme").ok


def test_the_first_operator_credentials_are_bootstrapped_once(operators: Operators) -> None:
    # Given a new deployment, when the CLI bootstraps an operator
    issued = operators.tenancy.bootstrap_operator()

    # Then an operator client of the platform tenant exists, which mints operator sessions and nothing else
    assert issued.client.tenant_id == PLATFORM_TENANT and issued.client.allowed_roles == ("operator",)
    sessions = operators.sessions()
    client = sessions.authenticate_client(issued.client.client_id, issued.client_secret)
    session = sessions.start_session(
        client, ClientCredentialsGrant(grant_type="client_credentials", user_id="ops-alice", roles=("operator",))
    )
    assert session.claims.roles == ("operator",) and session.claims.tenant == PLATFORM_TENANT
    with pytest.raises(e.DomainError):
        sessions.start_session(
            client, ClientCredentialsGrant(grant_type="client_credentials", user_id="ops-alice", roles=("admin",))
        )
    # ...and running the bootstrap again is refused unless forced
    with pytest.raises(OperatorAlreadyBootstrappedError):
        operators.tenancy.bootstrap_operator()
    assert operators.tenancy.bootstrap_operator(force=True).client.client_id != issued.client.client_id
    assert "operator.bootstrapped" in [e.action for e in operators.audit.list_entries(PLATFORM_TENANT).items]


def test_tenant_clients_cannot_be_given_the_operator_role() -> None:
    with pytest.raises(ValueError):
        ApiClientCreate.model_validate({"name": "x", "allowed_roles": ["operator"]})
