"""Bucketing: pinned hash vectors, uniformity (chi-square), and the rollout laws as properties.

The laws: a user's bucket depends only on the flag's salt and the stickiness key; raising a rule's percentage never
drops a user who was in; two flags at 10% pick (nearly) independent users; a user's variant stays put while the
weights do not change, whatever happens to the rollout percentage.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from firstmile.flags import logic
from firstmile.flags.models import ROLLOUT_BUCKETS, EvaluationReason, Serve
from tests.unit.flags.flagsets import boolean_flag, context, flag_set, rule, variants_flag

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
# Users for the statistical checks: fixed, so the checks are deterministic.
POPULATION = [f"user-{i:05d}" for i in range(50_000)]
# The chi-square critical value for 99 degrees of freedom at p = 0.001.
CHI_SQUARE_99_P001 = 148.23

salts = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,30}", fullmatch=True)
stickiness_keys = st.text(min_size=1, max_size=40)
# Percentages in the model's resolution (steps of 0.001%).
percentages = st.integers(0, ROLLOUT_BUCKETS).map(lambda thousandths: thousandths / 1000)


# --- the hash, pinned --------------------------------------------------------------------------------------

# (salt, stickiness key, first 8 bytes of SHA-256 of "<salt>:<key>" in hex, rollout bucket, variant bucket)
VECTORS = [
    ("new-checkout", "u-alice", "f5c2120fe1f5324e", 63790, 61646),
    ("new-checkout", "u-bob", "8abea8f2e3abf50b", 29227, 84106),
    ("dark-mode", "u-alice", "a1218f1cbbac662a", 43338, 23024),
    ("dark-mode", "user-0001", "10ead0d1a5c75ac3", 88291, 38342),
    ("pricing-page.v2", "42", "40570a69b14ce550", 65488, 31134),
    ("new-checkout", "ü-zoë", "19ff6fe4a053144a", 41546, 19488),
]


@pytest.mark.parametrize(("salt", "key", "prefix", "rollout", "variant"), VECTORS)
def test_buckets_match_the_documented_vectors(salt: str, key: str, prefix: str, rollout: int, variant: int) -> None:
    # Given the documented formula, computed independently of the evaluator
    digest = hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()
    variant_digest = hashlib.sha256(f"{salt}/variant:{key}".encode()).hexdigest()

    # Then the vector is what the formula gives, and what the evaluator gives
    assert digest[:16] == prefix
    assert int(prefix, 16) % ROLLOUT_BUCKETS == rollout
    assert int(variant_digest[:16], 16) % ROLLOUT_BUCKETS == variant
    assert logic.bucket(salt, key) == rollout
    assert logic.variant_bucket(salt, key) == variant


def test_a_pinned_user_is_in_or_out_of_a_rollout_as_the_vectors_say() -> None:
    # Given new-checkout at 50%: u-bob's bucket is 29,227 (in), u-alice's 63,790 (out)
    flags = flag_set(boolean_flag("new-checkout", rule("half", percentage=50)))

    # Then
    assert logic.evaluate(flags, "new-checkout", context("u-bob")).reason is EvaluationReason.SPLIT
    assert logic.evaluate(flags, "new-checkout", context("u-alice")).reason is EvaluationReason.DEFAULT
    # And at 63.790% u-alice is still out, at 63.791% she is in (in = bucket < threshold)
    assert (
        logic.evaluate(
            flag_set(boolean_flag("new-checkout", rule("r", percentage=63.79))), "new-checkout", context("u-alice")
        ).value
        is False
    )
    assert (
        logic.evaluate(
            flag_set(boolean_flag("new-checkout", rule("r", percentage=63.791))), "new-checkout", context("u-alice")
        ).value
        is True
    )


def test_the_salt_not_the_key_seeds_the_buckets() -> None:
    # Given a flag copied under another key with the original's salt
    original = flag_set(boolean_flag("new-checkout", rule("r", percentage=30)))
    renamed = flag_set(boolean_flag("checkout-v2", rule("r", percentage=30), salt="new-checkout"))

    # Then every user keeps their answer
    for user in POPULATION[:500]:
        before = logic.evaluate(original, "new-checkout", context(user)).value
        after = logic.evaluate(renamed, "checkout-v2", context(user)).value
        assert before == after


# --- uniformity ----------------------------------------------------------------------------------------------


def chi_square(values: list[int], bins: int = 100) -> float:
    counts = [0] * bins
    width = ROLLOUT_BUCKETS // bins
    for value in values:
        counts[value // width] += 1
    expected = len(values) / bins
    return sum((count - expected) ** 2 / expected for count in counts)


def test_rollout_buckets_are_uniform() -> None:
    # Given 50,000 fixed keys bucketed into 100 bins of 1,000 buckets
    statistic = chi_square([logic.bucket("new-checkout", user) for user in POPULATION])

    # Then uniformity is not rejected at p = 0.001
    assert statistic < CHI_SQUARE_99_P001


def test_variant_buckets_are_uniform() -> None:
    statistic = chi_square([logic.variant_bucket("new-checkout", user) for user in POPULATION])

    assert statistic < CHI_SQUARE_99_P001


def test_the_chi_square_check_rejects_a_skewed_hash() -> None:
    # Given buckets that cluster (the low half of the range only): the check must be able to fail
    statistic = chi_square([logic.bucket("new-checkout", user) // 2 for user in POPULATION])

    assert statistic > CHI_SQUARE_99_P001


# --- the laws --------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(salt=salts, key=stickiness_keys)
def test_buckets_are_deterministic_and_in_range(salt: str, key: str) -> None:
    first = logic.bucket(salt, key)

    assert 0 <= first < ROLLOUT_BUCKETS
    assert logic.bucket(salt, key) == first
    assert 0 <= logic.variant_bucket(salt, key) < ROLLOUT_BUCKETS


@PROPERTY_SETTINGS
@given(key=stickiness_keys, low=percentages, high=percentages)
def test_raising_a_percentage_never_drops_a_user(key: str, low: float, high: float) -> None:
    # Given the same rule at a lower and a higher percentage
    low, high = min(low, high), max(low, high)
    before = flag_set(boolean_flag("new-checkout", rule("rollout", percentage=low)))
    after = flag_set(boolean_flag("new-checkout", rule("rollout", percentage=high)))

    # When the user is in at the lower percentage
    was_in = logic.evaluate(before, "new-checkout", context(key)).value
    is_in = logic.evaluate(after, "new-checkout", context(key)).value

    # Then they are in at the higher one
    assert not was_in or is_in
    # And being in is exactly bucket < threshold
    assert was_in == (logic.bucket("new-checkout", key) < round(low * 1000))


@PROPERTY_SETTINGS
@given(key=stickiness_keys, plan=st.sampled_from(["free", "pro", "team"]), country=st.sampled_from(["DE", "US"]))
def test_the_answer_follows_the_stickiness_key_only(key: str, plan: str, country: str) -> None:
    # Given a 40% rollout to everyone
    flags = flag_set(boolean_flag("new-checkout", rule("rollout", percentage=40)))

    # When the same stickiness key comes with another user id and other attributes
    first = logic.evaluate(flags, "new-checkout", context("u-one", stickiness_key=key))
    second = logic.evaluate(flags, "new-checkout", context("u-two", stickiness_key=key, plan=plan, country=country))

    # Then the answer is the same, and it is the user id's answer when no stickiness key is given
    assert first.value == second.value
    assert logic.evaluate(flags, "new-checkout", context(key)).value == first.value


@settings(max_examples=20, deadline=None)
@given(first=salts, second=salts)
def test_two_flags_at_ten_percent_pick_independent_users(first: str, second: str) -> None:
    assume(first != second)
    # Given two flags at 10% and 20,000 users
    users = POPULATION[:20_000]
    threshold = 10 * 1000
    in_first = {u for u in users if logic.bucket(first, u) < threshold}
    in_second = {u for u in users if logic.bucket(second, u) < threshold}

    # Then each picks about 10% (sd ~ 42 users: 6 sd allowed) ...
    for picked in (in_first, in_second):
        assert abs(len(picked) - 2_000) < 260
    # ... and they share about 1% of the users, as independent draws would (sd ~ 14 users), not 10%
    assert abs(len(in_first & in_second) - 200) < 90


@PROPERTY_SETTINGS
@given(
    key=stickiness_keys,
    weights=st.lists(st.integers(0, 100), min_size=2, max_size=4).filter(lambda w: sum(w) > 0),
    before=percentages,
    after=percentages,
)
def test_a_variant_stays_put_while_the_weights_do_not_change(
    key: str, weights: list[int], before: float, after: float
) -> None:
    # Given a split rule whose rollout percentage changes while its weights do not
    variants = {f"v{i}": (i, weight) for i, weight in enumerate(weights)}

    def served(percentage: float) -> str | None:
        flag = variants_flag(
            "layout", variants, rule("split", serve=Serve(split=True), percentage=percentage), off="v0"
        )
        result = logic.evaluate(flag_set(flag), "layout", context(key))
        return result.variant if result.reason is EvaluationReason.SPLIT else None

    first, second = served(before), served(after)

    # Then a user served by both versions gets the same variant, one with a non-zero weight
    if first is not None and second is not None:
        assert first == second
    for variant in (first, second):
        if variant is not None:
            assert variants[variant][1] > 0


def test_variant_shares_follow_the_weights_inside_a_partial_rollout() -> None:
    # Given a 30% rollout of a 1:3 split (the two buckets are drawn separately)
    flag = variants_flag(
        "layout",
        {"a": ("A", 1), "b": ("B", 3), "off": ("O", 0)},
        rule("split", serve=Serve(split=True), percentage=30),
        off="off",
    )
    compiled = logic.compile_flag_set(flag_set(flag))

    # When 20,000 users are evaluated
    served = [logic.evaluate(compiled, "layout", context(user)).variant for user in POPULATION[:20_000]]

    # Then 30% are served, a quarter of them "a" (each count within ~5 sd)
    a, b = served.count("a"), served.count("b")
    assert abs(a + b - 6_000) < 330
    assert abs(a - (a + b) / 4) < 170
