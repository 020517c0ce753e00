"""Signing keys against the emulator: the secret, the published JWKS, and a rotation as verifiers live it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from firstmile.config import get_settings
from firstmile.errors import DependencyUnavailableError, VersionConflictError
from firstmile.identity import keys
from firstmile.identity.authorizer import authorize, revocations_for, verifier_for
from firstmile.identity.keys import RotationPolicy
from firstmile.identity.keystore import SecretsManagerKeyStore, SigningKeyProvider, rotate_signing_keys
from firstmile.identity.store import IdentityStore
from firstmile.identity.tokens import RejectionReason, TokenRejected, Verifier, access_claims, sign_access_token
from firstmile.identity.tokens import public_keys_from_jwks as keys_of
from firstmile.platform import aws
from tests.factories import FakeClock
from tests.integration.conftest import Deployment

DAY = 86400
POLICY = RotationPolicy(rotate_every_seconds=30 * DAY, publish_ahead_seconds=3600, retire_after_seconds=1020)


@pytest.fixture
def secret(deployment: Deployment) -> Iterator[SecretsManagerKeyStore]:
    """A signing-key secret as CDK creates it: holding a generated random value, not yet a key set."""
    client = deployment.client("secretsmanager")
    name = f"firstmile-signing-keys-{uuid.uuid4().hex[:8]}"
    client.create_secret(Name=name, SecretString="GeneratedRandomPassword-2b8f")
    yield SecretsManagerKeyStore(name, client=client)
    client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def mint(provider: SigningKeyProvider, now: float) -> str:
    claims = access_claims(
        issuer="urn:i",
        audience="urn:a",
        tenant="t-acme",
        subject="u-1",
        roles=["user"],
        attributes={},
        session_id="ses_" + "s" * 22,
        now=now,
        ttl_seconds=900,
    )
    return sign_access_token(claims, provider.current())


def test_the_first_run_creates_a_key_publishes_it_and_tokens_verify(
    deployment: Deployment, secret: SecretsManagerKeyStore
) -> None:
    # Given a new deployment whose secret holds no key set yet
    clock, store = FakeClock(), IdentityStore(aws.table(deployment.table_name))
    assert secret.load() == keys.KeySet()
    with pytest.raises(DependencyUnavailableError):
        SigningKeyProvider(secret.load, clock=clock).current()

    # When the rotation job runs once
    events = rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)

    # Then the secret holds a current key, the table publishes its public half only, and tokens verify
    assert [e.event for e in events] == ["created", "activated"]
    stored = secret.load()
    jwks, version = store.published_jwks()
    assert stored.current is not None and [k["kid"] for k in jwks["keys"]] == [stored.current.kid]
    assert version == 1 and '"d"' not in str(jwks).replace("'", '"')
    verifier = Verifier(
        issuer="urn:i", audience="urn:a", load_keys=lambda: keys_of(store.published_jwks()[0]), clock=clock
    )
    assert verifier.verify(mint(SigningKeyProvider(secret.load, clock=clock), clock.now)).sub == "u-1"


def test_a_rotation_publishes_ahead_swaps_signers_and_retires_the_old_key_after_its_tokens_expired(
    deployment: Deployment, secret: SecretsManagerKeyStore
) -> None:
    clock, store = FakeClock(), IdentityStore(aws.table(deployment.table_name))
    rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)
    first = secret.load().current
    assert first is not None

    def verifier() -> Verifier:
        return Verifier(
            issuer="urn:i", audience="urn:a", load_keys=lambda: keys_of(store.published_jwks()[0]), clock=clock
        )

    # 30 days later the job publishes a next key, which does not sign yet
    clock.now += 30 * DAY
    rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)
    upcoming = secret.load().in_state("next")
    assert upcoming is not None
    assert {k["kid"] for k in store.published_jwks()[0]["keys"]} == {first.kid, upcoming.kid}
    assert keys.KID_PATTERN.match(upcoming.kid)

    # A token function caches the key set just before the swap...
    clock.now += 3599
    cached = SigningKeyProvider(secret.load, clock=clock, ttl_seconds=60)
    cached.current()

    # ...an hour after publication the next key signs; the cached signer still uses the old key for a while,
    # and both kinds of token verify
    clock.now += 1
    rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)
    clock.now += 30
    old_token, new_token = mint(cached, clock.now), mint(SigningKeyProvider(secret.load, clock=clock), clock.now)
    live = verifier()
    assert [live.verify(t).sub for t in (old_token, new_token)] == ["u-1", "u-1"]
    assert old_token.split(".")[0] != new_token.split(".")[0]

    # After the longest token lifetime (+ skew and signer cache) the old key leaves the JWKS
    clock.now += 1020 - 30
    rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)
    assert [k["kid"] for k in store.published_jwks()[0]["keys"]] == [upcoming.kid]
    assert [k.kid for k in secret.load().keys] == [upcoming.kid]


def test_two_runs_at_once_cannot_both_publish(deployment: Deployment, secret: SecretsManagerKeyStore) -> None:
    clock, store = FakeClock(), IdentityStore(aws.table(deployment.table_name))
    rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)
    # Given a second run that read the published JWKS before the first one wrote
    stale_view = store.published_jwks()
    clock.now += 30 * DAY
    rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)
    stored_after_first = secret.load()

    class StaleStore(IdentityStore):
        def published_jwks(self) -> tuple[dict[str, object], int]:  # type: ignore[override]
            return stale_view

    # When it tries to publish, its condition fails and it stores nothing
    with pytest.raises(VersionConflictError):
        rotate_signing_keys(
            secret, StaleStore(aws.table(deployment.table_name)), now=clock.now + 10, policy=POLICY, rotate_now=True
        )
    assert secret.load() == stored_after_first


def test_a_missing_secret_makes_the_keys_unavailable(deployment: Deployment) -> None:
    missing = SecretsManagerKeyStore("no-such-secret", client=deployment.client("secretsmanager"))

    with pytest.raises(DependencyUnavailableError):
        missing.load()


def test_the_authorizer_verifies_with_the_published_keys_and_the_tables_revocations(
    deployment: Deployment, secret: SecretsManagerKeyStore
) -> None:
    # Given a deployment whose rotation job ran, and a token minted with its settings
    settings, clock = get_settings(), FakeClock()
    store = IdentityStore(aws.table(deployment.table_name))
    rotate_signing_keys(secret, store, now=clock.now, policy=POLICY)
    claims = access_claims(
        issuer=settings.issuer,
        audience=settings.audience,
        tenant="t-acme",
        subject="u-1",
        roles=["user"],
        attributes={},
        session_id="ses_" + "s" * 22,
        now=clock.now,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    header = "Bearer " + sign_access_token(claims, SigningKeyProvider(secret.load, clock=clock).current())
    verifier, revocations = verifier_for(settings, store, clock=clock), revocations_for(settings, store, clock=clock)

    # Then it passes, until its session is revoked and the revocation bound has passed
    assert authorize(header, verifier=verifier, revocations=revocations).sub == "u-1"
    store.revoke_family("t-acme", "u-1", claims.sid, now=clock.now, reason="test", access_ttl_seconds=900)
    clock.now += settings.revocation_cache_seconds
    with pytest.raises(TokenRejected) as refused:
        authorize(header, verifier=verifier, revocations=revocations)
    assert refused.value.reason is RejectionReason.REVOKED
