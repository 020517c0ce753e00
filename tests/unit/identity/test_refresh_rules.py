"""Refresh tokens and the laws of token rotation, as properties over any sequence of uses and waits."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firstmile.identity import refresh
from firstmile.identity.models import Family
from firstmile.identity.refresh import FamilyPolicy, RefreshOutcome, classify, rotate
from tests.unit.identity.conftest import NOW

POLICY = FamilyPolicy(absolute_lifetime_seconds=30 * 86400, idle_timeout_seconds=7 * 86400, overlap_seconds=5)


def family_with(token: str, *, now: float = NOW, policy: FamilyPolicy = POLICY) -> Family:
    return refresh.start_family(
        tenant="t-acme",
        user="u-1",
        client_id="fmc_" + "c" * 22,
        roles=["user"],
        attributes={},
        token_hash=refresh.hash_refresh_token(token),
        now=now,
        policy=policy,
    )


def test_a_refresh_token_carries_256_random_bits_and_is_stored_as_sha256() -> None:
    token = refresh.new_refresh_token()

    assert token.startswith("fmr_")
    assert len(base64.urlsafe_b64decode(token[4:] + "=")) == 32
    assert refresh.looks_like_refresh_token(token)
    assert len(refresh.hash_refresh_token(token)) == 64
    assert token not in refresh.hash_refresh_token(token)
    assert refresh.new_refresh_token() != token


@pytest.mark.parametrize("shape", ["", "fmr_", "fmr_short", "fms_" + "a" * 43, "fmr_" + "a" * 42 + "!", "x" * 500])
def test_strings_that_are_not_refresh_tokens_are_recognised(shape: str) -> None:
    assert not refresh.looks_like_refresh_token(shape)


def test_the_overlap_window_is_at_most_ten_seconds() -> None:
    with pytest.raises(ValueError):
        FamilyPolicy(overlap_seconds=11)


def test_the_current_token_rotates_and_its_predecessor_is_superseded_only_within_the_window() -> None:
    # Given a family rotated once at NOW
    first, second = refresh.new_refresh_token(), refresh.new_refresh_token()
    family = rotate(family_with(first), refresh.hash_refresh_token(second), NOW, POLICY)
    first_hash, second_hash = refresh.hash_refresh_token(first), refresh.hash_refresh_token(second)

    # Then the new token rotates, the old one is "superseded" for 5 s, and reuse after that
    assert classify(family, second_hash, NOW + 100, POLICY) is RefreshOutcome.ROTATED
    assert classify(family, first_hash, NOW + 5, POLICY) is RefreshOutcome.SUPERSEDED
    assert classify(family, first_hash, NOW + 5.001, POLICY) is RefreshOutcome.REUSE_DETECTED


def test_a_family_expires_when_idle_and_at_its_absolute_end() -> None:
    token = refresh.new_refresh_token()
    family = family_with(token)
    presented = refresh.hash_refresh_token(token)

    assert classify(family, presented, NOW + 7 * 86400 - 1, POLICY) is RefreshOutcome.ROTATED
    assert classify(family, presented, NOW + 7 * 86400, POLICY) is RefreshOutcome.EXPIRED


def test_a_revoked_family_answers_revoked_for_every_token() -> None:
    token = refresh.new_refresh_token()
    family = refresh.revoke(family_with(token), NOW, "logout")

    assert classify(family, refresh.hash_refresh_token(token), NOW, POLICY) is RefreshOutcome.REVOKED
    assert refresh.revoke(family, NOW + 10, "other") == family


def test_only_a_live_family_rotates() -> None:
    family = refresh.revoke(family_with(refresh.new_refresh_token()), NOW, "logout")

    with pytest.raises(ValueError):
        rotate(family, "0" * 64, NOW, POLICY)


# --- properties ---------------------------------------------------------------------------------------------------

# One step of a client's (or an attacker's) life: wait some seconds, then present the token issued n rotations ago.
steps = st.lists(
    st.tuples(
        st.one_of(st.floats(min_value=0, max_value=12), st.integers(min_value=0, max_value=9 * 86400)),
        st.integers(min_value=0, max_value=4),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps, st.integers(min_value=0, max_value=10))
def test_rotation_laws(journey: list[tuple[float, int]], overlap: int) -> None:
    """Whatever tokens are presented, in whatever order and at whatever times:

    1. the absolute expiry never moves, and the idle expiry never passes it;
    2. only the newest token can rotate, and then it rotates exactly once;
    3. "superseded" is only ever the immediate predecessor within the overlap window;
    4. presenting any other issued token of a live family is reuse, and reuse revokes the family for good;
    5. the generation counts the successful rotations.
    """
    policy = FamilyPolicy(POLICY.absolute_lifetime_seconds, POLICY.idle_timeout_seconds, overlap)
    now = NOW
    issued = [refresh.new_refresh_token()]
    family = family_with(issued[0], policy=policy)
    absolute = family.absolute_expires_at
    rotations, revoked_at_some_point = 0, False

    for wait, age in journey:
        now += wait
        index = max(0, len(issued) - 1 - age)
        presented = refresh.hash_refresh_token(issued[index])
        outcome = classify(family, presented, now, policy)
        newest = index == len(issued) - 1

        if revoked_at_some_point:
            assert outcome is RefreshOutcome.REVOKED  # law 4: for good
        elif refresh.is_expired(family, now):
            assert outcome is RefreshOutcome.EXPIRED
        elif newest:
            assert outcome is RefreshOutcome.ROTATED  # law 2
        elif index == len(issued) - 2 and now - (family.previous_rotated_at or -1e18) <= overlap:
            assert outcome is RefreshOutcome.SUPERSEDED  # law 3
        else:
            assert outcome is RefreshOutcome.REUSE_DETECTED  # law 4

        if outcome is RefreshOutcome.ROTATED:
            issued.append(refresh.new_refresh_token())
            family = rotate(family, refresh.hash_refresh_token(issued[-1]), now, policy)
            rotations += 1
            # law 2: the token just used no longer rotates
            assert classify(family, presented, now, policy) is not RefreshOutcome.ROTATED
        elif outcome is RefreshOutcome.REUSE_DETECTED:
            family = refresh.revoke(family, now, "reuse_detected")
            revoked_at_some_point = True

        assert family.absolute_expires_at == absolute  # law 1
        assert family.idle_expires_at <= family.absolute_expires_at  # law 1
        assert family.generation == rotations  # law 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=6 * 86400), min_size=1, max_size=40))
def test_rotating_as_often_as_you_like_never_outlives_the_absolute_lifetime(waits: list[int]) -> None:
    token = refresh.new_refresh_token()
    family, now = family_with(token), NOW

    for wait in waits:
        now += wait
        if classify(family, refresh.hash_refresh_token(token), now, POLICY) is not RefreshOutcome.ROTATED:
            break
        token = refresh.new_refresh_token()
        family = rotate(family, refresh.hash_refresh_token(token), now, POLICY)

    # However diligent the client, the session ends 30 days after it began.
    end = NOW + POLICY.absolute_lifetime_seconds
    assert classify(family, family.current_hash, end, POLICY) is RefreshOutcome.EXPIRED
    assert refresh.refresh_token_expiry(family) <= end
