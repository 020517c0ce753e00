"""Revocation as verifiers see it: which tokens a user's revocations cover, and how stale the view may be."""

from __future__ import annotations

import pytest

from firstmile.identity.models import AccessClaims, Revocations
from firstmile.identity.revocation import RevocationCache, is_revoked
from firstmile.identity.tokens import RejectionReason, TokenRejected
from tests.unit.identity.conftest import NOW, FakeClock

CLAIMS = AccessClaims(
    iss="i",
    aud="a",
    sub="u-1",
    tenant="t-acme",
    roles=("user",),
    jti="j" * 22,
    sid="ses_" + "s" * 22,
    iat=int(NOW),
    nbf=int(NOW),
    exp=int(NOW) + 900,
)


@pytest.mark.parametrize(
    ("revocations", "revoked"),
    [
        (Revocations(), False),
        (Revocations(token_ids=frozenset({"j" * 22})), True),
        (Revocations(token_ids=frozenset({"other"})), False),
        (Revocations(families=frozenset({"ses_" + "s" * 22})), True),
        (Revocations(revoked_before=int(NOW)), True),
        (Revocations(revoked_before=int(NOW) - 1), False),
    ],
)
def test_a_token_is_revoked_by_its_id_its_session_or_a_sign_out_everywhere(
    revocations: Revocations, revoked: bool
) -> None:
    assert is_revoked(CLAIMS, revocations) is revoked


def test_revocations_reach_verifiers_within_the_cache_bound() -> None:
    # Given a verifier's cache with a 5 s bound, and a user with nothing revoked
    clock, stored = FakeClock(), {"value": Revocations()}
    loads: list[tuple[str, str]] = []

    def load(tenant: str, user: str) -> Revocations:
        loads.append((tenant, user))
        return stored["value"]

    cache = RevocationCache(load, ttl_seconds=5, clock=clock)
    assert cache.check(CLAIMS) == CLAIMS

    # When the user signs out everywhere
    stored["value"] = Revocations(revoked_before=int(NOW))

    # Then the token may still pass for less than 5 s, and is refused from then on
    clock.advance(4.9)
    assert cache.check(CLAIMS) == CLAIMS
    clock.advance(0.1)
    with pytest.raises(TokenRejected) as refused:
        cache.check(CLAIMS)
    assert refused.value.reason is RejectionReason.REVOKED
    assert refused.value.code == "AUTH_TOKEN_REVOKED"
    assert loads == [("t-acme", "u-1"), ("t-acme", "u-1")]


def test_the_cache_holds_a_bounded_number_of_users() -> None:
    cache = RevocationCache(lambda t, u: Revocations(), ttl_seconds=60, clock=FakeClock(), max_users=3)

    for user in ("a", "b", "c", "d"):
        cache.revocations_of("t", user)

    assert len(cache._entries) == 3
    assert ("t", "a") not in cache._entries


def test_a_failing_revocation_store_fails_the_check() -> None:
    def broken(tenant: str, user: str) -> Revocations:
        raise ConnectionError("table unreachable")

    with pytest.raises(ConnectionError):
        RevocationCache(broken, clock=FakeClock()).check(CLAIMS)
