"""Fixed-bucket latency histograms (issue 15): percentiles of known distributions within the stated error, adding
histograms loses nothing, and stored counts read back the same."""

from __future__ import annotations

import math
import random

import pytest

from firstmile.sla.histogram import (
    CEILING_MS,
    FLOOR_ERROR_MS,
    RELATIVE_ERROR,
    Histogram,
    bounds,
    bucket_of,
)


def nearest_rank(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


def distributions() -> dict[str, list[float]]:
    rng = random.Random(20261204)  # noqa: S311 - test data, not security
    return {
        "uniform 5-500 ms": [rng.uniform(5, 500) for _ in range(20_000)],
        "lognormal around 55 ms": [rng.lognormvariate(4.0, 0.8) for _ in range(20_000)],
        "bimodal 20 ms and 900 ms": [
            rng.gauss(20, 3) if rng.random() < 0.9 else rng.gauss(900, 100) for _ in range(20_000)
        ],
        "exponential, mean 80 ms": [rng.expovariate(1 / 80) for _ in range(20_000)],
        "sub-millisecond": [rng.uniform(0.05, 0.95) for _ in range(2_000)],
        "a few slow outliers": [10.0] * 985 + [rng.uniform(2_000, 9_000) for _ in range(15)],
    }


@pytest.mark.parametrize("name", list(distributions()))
@pytest.mark.parametrize("p", [50, 90, 95, 99, 99.9])
def test_percentiles_of_known_distributions_are_within_the_stated_error(name: str, p: float) -> None:
    samples = distributions()[name]
    histogram = Histogram.of(samples)

    estimate, exact = histogram.percentile(p), nearest_rank(samples, p)

    assert estimate is not None
    assert abs(estimate - exact) <= max(RELATIVE_ERROR * exact, FLOOR_ERROR_MS), (name, p, estimate, exact)


def test_the_stated_error_holds_at_every_bucket_edge_and_the_buckets_tile_the_line() -> None:
    assert RELATIVE_ERROR < 0.04
    for index in range(1, 150):
        low, high = bounds(index)
        if math.isinf(high):
            break
        assert bucket_of(high) == index and bucket_of(low * 1.0000001) == index
        assert bounds(index + 1)[0] == pytest.approx(high)
        middle = Histogram.of([high]).percentile(100)
        assert middle is not None and abs(middle - high) <= RELATIVE_ERROR * high * 1.0000001
        assert abs(middle - low) <= RELATIVE_ERROR * low * 1.0000001 + 1e-9
    assert Histogram.of([120_000]).percentile(99) == CEILING_MS  # beyond 60 s: "at least 60 s"


def test_histograms_add_without_loss_and_read_back_from_stored_counts() -> None:
    samples = distributions()["lognormal around 55 ms"]
    whole = Histogram.of(samples)
    parts = [Histogram.of(samples[i : i + 1000]) for i in range(0, len(samples), 1000)]
    merged = Histogram()
    for part in parts:
        merged = merged.merge(part)

    assert merged.counts == whole.counts and merged.total == len(samples)
    assert merged.mean_ms == pytest.approx(sum(samples) / len(samples))
    stored = {str(k): v for k, v in whole.counts.items()}
    assert Histogram.from_counts(stored, whole.sum_ms).percentile(99) == whole.percentile(99)
    assert Histogram().percentile(95) is None and Histogram().mean_ms is None
    with pytest.raises(ValueError):
        whole.percentile(0)


def test_the_share_above_a_threshold_counts_whole_buckets() -> None:
    histogram = Histogram.of([10.0] * 97 + [1_000.0] * 3)
    assert histogram.share_above(300) == pytest.approx(0.03)
    assert histogram.share_above(5) == pytest.approx(1.0)
