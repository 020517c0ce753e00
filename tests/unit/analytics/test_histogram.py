"""The duration histogram: fixed buckets whose quantiles stay within the stated error of the exact ones."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firstmile.analytics.histogram import (
    LAST,
    RELATIVE_ERROR,
    SUBSECOND_ERROR_SECONDS,
    Histogram,
    bucket_of,
    lower_bound,
    middle,
)

# Up to a year and a bit, in seconds, as onboarding durations are.
DURATIONS = st.floats(min_value=0.0, max_value=4e7, allow_nan=False)


def exact_quantile(durations: list[float], q: float) -> float:
    """The nearest-rank quantile: the smallest duration with at least q * n durations at or below it."""
    ordered = sorted(durations)
    return ordered[math.ceil(q * len(ordered)) - 1]


@given(DURATIONS)
def test_a_duration_falls_between_its_buckets_bounds(seconds: float) -> None:
    bucket = bucket_of(seconds)
    assert 0 <= bucket <= LAST
    assert lower_bound(bucket) <= seconds
    if bucket < LAST:
        assert seconds < lower_bound(bucket + 1)


@given(DURATIONS)
def test_a_buckets_middle_is_within_the_stated_error_of_any_duration_in_it(seconds: float) -> None:
    answered = middle(bucket_of(seconds))
    if seconds < 1.0:
        assert abs(answered - seconds) <= SUBSECOND_ERROR_SECONDS
    else:
        assert abs(answered - seconds) <= RELATIVE_ERROR * seconds


@given(st.lists(DURATIONS, min_size=1, max_size=300), st.sampled_from([0.5, 0.9, 0.99, 1.0]))
def test_a_quantile_is_within_the_stated_error_of_the_exact_one(durations: list[float], q: float) -> None:
    exact = exact_quantile(durations, q)
    estimated = Histogram.of(durations).quantile(q)
    assert estimated is not None
    if exact < 1.0:
        assert abs(estimated - exact) <= SUBSECOND_ERROR_SECONDS
    else:
        assert abs(estimated - exact) <= RELATIVE_ERROR * exact


@given(st.lists(DURATIONS, max_size=100), st.lists(DURATIONS, max_size=100))
def test_merging_is_counting_both_at_once(first: list[float], second: list[float]) -> None:
    merged = Histogram.of(first).merged(Histogram.of(second))
    both = Histogram.of(first + second)
    assert merged.counts == both.counts
    assert merged.total_seconds == pytest.approx(both.total_seconds)


def test_the_average_is_exact_and_an_empty_histogram_answers_none() -> None:
    assert Histogram.of([1.0, 2.0, 6.0]).average() == 3.0
    assert Histogram().average() is None
    assert Histogram().quantile(0.5) is None


def test_the_stated_error_is_about_nine_percent_and_the_buckets_span_two_years() -> None:
    assert 0.09 < RELATIVE_ERROR < 0.091
    assert lower_bound(LAST) > 2 * 365 * 86_400


@pytest.mark.parametrize("seconds", [-5.0, float("nan"), 0.0, 0.999])
def test_durations_under_a_second_or_unreadable_count_in_bucket_0(seconds: float) -> None:
    assert bucket_of(seconds) == 0


@pytest.mark.parametrize("q", [0.0, -0.1, 1.5])
def test_a_quantile_outside_0_to_1_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="quantile"):
        Histogram.of([1.0]).quantile(q)


def test_exact_bounds_open_their_bucket() -> None:
    # 1 s opens bucket 1, 2 s bucket 5 (four buckets to a doubling), 4 s bucket 9
    assert [bucket_of(s) for s in (1.0, 2.0, 4.0)] == [1, 5, 9]
    assert bucket_of(math.nextafter(2.0, 0.0)) == 4
