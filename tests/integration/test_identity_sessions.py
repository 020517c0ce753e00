"""Sessions against the emulator: minting, rotation, reuse detection, races, lifetimes and revocation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from firstmile import errors as e
from firstmile.audit.store import AuditStore
from firstmile.identity import keys, refresh
from firstmile.identity.keys import KeySet, RotationPolicy
from firstmile.identity.store import IdentityStore
from firstmile.platform import aws
from tests.factories import NOW, FakeClock
from tests.integration.conftest import Deployment
from tests.integration.transaction_faults import TransactionConflicts
from tests.scenarios.sessions import AUDIENCE, ISSUER, Sessions, race_refreshes, tenant_with_a_client


@dataclass
class Identity(Sessions):
    """One tenant with one API client, and the services over the test's own table."""

    store: IdentityStore
    audit: AuditStore
    deployment: Deployment | None = None

    @property
    def table(self) -> Any:
        assert self.deployment is not None
        return self.deployment.table


@pytest.fixture
def identity(deployment: Deployment) -> Identity:
    clock = FakeClock()
    keyset, _ = keys.advance(KeySet(), NOW - 60, RotationPolicy())
    assert keyset.current is not None
    table = aws.table(deployment.table_name)
    audit = AuditStore(table, clock=clock)
    store = IdentityStore(table, audit=audit)
    tenancy, client_id, client_secret = tenant_with_a_client(store, clock)
    return Identity(clock, keyset.current, store, audit, tenancy, client_id, client_secret, deployment=deployment)


def refresh_error(identity: Identity, token: str) -> str:
    with pytest.raises(e.DomainError) as refused:
        identity.sessions().refresh(token)
    assert refused.value.code.startswith("AUTH_REFRESH_")
    return refused.value.code


def test_a_backend_mints_a_session_for_a_user_it_vouches_for(identity: Identity) -> None:
    # When the customer's backend mints a session for u-1
    issued = identity.login()

    # Then the access token verifies with the user's tenant, id, roles, attributes and session
    claims = identity.verifier().verify(issued.access_token)
    assert (claims.tenant, claims.sub, claims.roles, claims.attributes) == (
        "t-acme",
        "u-1",
        ("user",),
        {"market": "de"},
    )
    assert claims.exp - claims.iat == 900 and claims.iss == ISSUER and claims.aud == AUDIENCE
    # ...and the refresh token is kept only as its SHA-256
    family = identity.store.get_family("t-acme", "u-1", claims.sid)
    assert family is not None and family.current_hash == refresh.hash_refresh_token(issued.refresh_token)
    stored = identity.table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "TENANT#t-acme#USER#u-1"}
    )["Items"]
    pointer = identity.table.get_item(Key={"pk": f"REFRESH#{family.current_hash}", "sk": "REFRESH"})["Item"]
    assert issued.refresh_token not in repr(stored) + repr(pointer)
    assert pointer["expires_at"] == int(family.absolute_expires_at)


def test_two_parallel_refreshes_with_one_token_give_exactly_one_success(identity: Identity) -> None:
    token = identity.login().refresh_token

    for contenders in (2, 6, 6):
        # When several requests present the same refresh token at the same moment
        outcomes, winners = race_refreshes(
            # One store (and boto3 resource) per thread, like one Lambda container each.
            lambda: identity.sessions(store=IdentityStore(identity.table)),
            token,
            contenders,
        )

        # Then exactly one rotates; the others learn they lost the race, and nothing is revoked
        assert sorted(outcomes) == ["AUTH_REFRESH_SUPERSEDED"] * (contenders - 1) + ["rotated"]
        token = winners[0].refresh_token

    family = identity.store.get_family("t-acme", "u-1", winners[0].claims.sid)
    assert family is not None and family.generation == 3 and not family.revoked
    assert identity.sessions().refresh(token).claims.sid == family.family_id


def test_a_session_revocation_that_meets_a_concurrent_transaction_is_sent_again(identity: Identity) -> None:
    # Given a session
    session = identity.login()

    # When it is revoked (as signing out everywhere revokes each session) while a refresh's transaction holds it
    with TransactionConflicts(aws.table(identity.table.name), times=1) as conflicts:
        revoked = identity.store.revoke_family(
            "t-acme", "u-1", session.claims.sid, now=identity.clock(), reason="revoked", access_ttl_seconds=900
        )

    # Then the revocation was sent again and holds: not mistaken for a session that has gone
    assert conflicts.sent == 2
    assert revoked is not None and revoked.revoked
    assert refresh_error(identity, session.refresh_token) == "AUTH_REFRESH_REVOKED"
