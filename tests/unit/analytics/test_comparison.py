"""Comparing two periods' conversion with a two-proportion z-test."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firstmile.analytics.comparison import SIGNIFICANCE_LEVEL, trend, two_proportion_p_value


def test_the_p_value_matches_the_normal_table() -> None:
    # 50 of 100 against 65 of 100: pooled 0.575, z = 0.15 / 0.0699 = 2.146; a normal table gives p = 0.0319
    assert two_proportion_p_value(50, 100, 65, 100) == pytest.approx(0.0319, abs=0.0005)
    # z = 1.96 is the 5 % two-sided point: 1,000 users a period, 50 % against 54.38 %
    assert two_proportion_p_value(500, 1000, 544, 1000) == pytest.approx(0.05, abs=0.003)


def test_a_significant_rise_is_improving_a_significant_fall_declining_a_small_change_flat() -> None:
    assert trend(50, 100, 65, 100).trend == "improving"
    assert trend(65, 100, 50, 100).trend == "declining"
    small = trend(50, 100, 52, 100)
    assert (small.trend, small.conversion_rate_change) == ("flat", 0.02)
    assert small.p_value is not None and small.p_value > SIGNIFICANCE_LEVEL


@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), [(0, 0, 5, 10), (5, 10, 0, 0), (0, 10, 0, 20), (10, 10, 20, 20)])
def test_nothing_to_tell_apart_is_flat(c1: int, n1: int, c2: int, n2: int) -> None:
    assert trend(c1, n1, c2, n2).trend == "flat"


@given(
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_the_p_value_is_a_probability_and_the_same_either_way_round(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    forward = two_proportion_p_value(*first, *second)
    backward = two_proportion_p_value(*second, *first)
    assert forward == backward
    assert forward is None or 0.0 <= forward <= 1.0
