"""The SLA views against a brute-force computation (issue 15): known traffic is written as the functions write their
request records, delivered as CloudWatch Logs delivers them to the real aggregator, and every count, error rate and
p95/p99 the views answer is checked against the records themselves (percentiles within the histogram's stated
error). The objectives' burn rates and budgets are checked on a crafted incident."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from firstmile.composition import container
from firstmile.errors import DomainError
from firstmile.sla.histogram import FLOOR_ERROR_MS, RELATIVE_ERROR
from firstmile.sla.reports import SlaReports, level_for, parse_window
from firstmile.sla.requests import RequestSample, encode_subscription, probe_sample, record_line
from firstmile.sla.tallies import tally_samples
from tests.factories import FakeLambdaContext, load_handler
from tests.fakes.sla import FakeTallyStore

NOW = datetime.now(UTC).replace(second=30, microsecond=0)
ROUTES = {
    "GET /v1/onboarding/status": ("user", lambda rng: rng.lognormvariate(3.2, 0.6)),
    "POST /v1/onboarding/step": ("user", lambda rng: rng.uniform(20, 700)),
    "POST /v1/flags/evaluate": ("user", lambda rng: rng.choice((rng.gauss(8, 1), rng.gauss(250, 30))) + 10),
    "GET /v1/admin/flags": ("admin", lambda rng: rng.expovariate(1 / 40)),
}


def traffic(count: int, *, seed: int = 15, minutes: int = 50) -> list[RequestSample]:
    """``count`` requests over the last ``minutes``: 3 % server errors, 6 % client errors with codes."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    samples = []
    for _ in range(count):
        route = rng.choice(sorted(ROUTES))
        audience, latency = ROUTES[route]
        roll = rng.random()
        status, code = (
            (503, "SYS_UNAVAILABLE") if roll < 0.03 else ((404, "RES_NOT_FOUND") if roll < 0.09 else (200, None))
        )
        at = NOW - timedelta(seconds=rng.uniform(0, minutes * 60))
        samples.append(RequestSample(route, audience, status, max(0.2, latency(rng)), int(at.timestamp() * 1000), code))
    return samples


def deliver(samples: list[RequestSample], *, per_event: int = 250) -> list[dict[str, object]]:
    """The records as the functions write them, delivered in subscription events to the real aggregator."""
    handler = load_handler("sla_request_aggregator")
    events = []
    for start in range(0, len(samples), per_event):
        chunk = samples[start : start + per_event]
        lines = [(f"{start + i:056d}", s.at_ms, record_line(s, "fn")) for i, s in enumerate(chunk)]
        event = encode_subscription("/aws/lambda/firstmile-test-fn", lines)
        handler.lambda_handler(event, FakeLambdaContext())
        events.append(event)
    return events


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


def within_stated_error(answer: float | None, truth: float) -> bool:
    assert answer is not None
    return abs(answer - truth) <= max(RELATIVE_ERROR * truth, FLOOR_ERROR_MS) + 1e-9


@pytest.fixture
def tallies() -> FakeTallyStore:
    store = FakeTallyStore()
    container().request_tallies = store
    return store


def test_response_times_and_error_rate_agree_with_the_records(tallies: FakeTallyStore) -> None:
    # Given 6,000 requests over the last 50 minutes, delivered to the aggregator as their log records
    samples = traffic(6000)
    deliver(samples)
    reports = SlaReports(tallies, now=lambda: NOW)

    # When the views read the last hour
    times = reports.response_times("1h")
    errors = reports.error_rate("1h")

    # Then counts and error rates are exact, per route and overall, and the percentiles are within the stated error
    assert times.requests == errors.requests == 6000
    assert errors.server_errors == sum(s.status >= 500 for s in samples)
    assert errors.client_errors == sum(400 <= s.status < 500 for s in samples)
    assert errors.error_rate == round(errors.server_errors / 6000, 6)
    assert errors.by_code == dict(Counter(s.code for s in samples if s.code))
    latencies = [s.latency_ms for s in samples]
    assert times.average_ms == pytest.approx(sum(latencies) / len(latencies), abs=1e-3)
    for p, answer in ((50, times.p50_ms), (95, times.p95_ms), (99, times.p99_ms)):
        assert within_stated_error(answer, nearest_rank(latencies, p)), p
    for route in times.routes:
        mine = [s.latency_ms for s in samples if s.route == route.route]
        assert route.requests == len(mine)
        assert within_stated_error(route.p95_ms, nearest_rank(mine, 95)), route.route
        assert within_stated_error(route.p99_ms, nearest_rank(mine, 99)), route.route
    for route in errors.routes:
        mine = [s for s in samples if s.route == route.route]
        assert (route.server_errors, route.client_errors) == (
            sum(s.status >= 500 for s in mine),
            sum(400 <= s.status < 500 for s in mine),
        )
    # And the series adds up to the totals, one point a minute
    assert times.window.resolution == "minute"
    assert sum(point.requests for point in errors.series) == 6000
    assert sum(point.server_errors for point in errors.series) == errors.server_errors


def test_a_delivery_retried_is_counted_once(tallies: FakeTallyStore) -> None:
    samples = traffic(300, seed=3)
    handler = load_handler("sla_request_aggregator")
    (event,) = deliver(samples, per_event=300)

    handler.lambda_handler(event, FakeLambdaContext())

    assert SlaReports(tallies, now=lambda: NOW).error_rate("1h").requests == 300


def test_a_burst_of_server_errors_burns_the_error_rate_budget() -> None:
    # Given a quiet month (10,000 requests, 10 server errors), then in the last 5 minutes 30 of 40 requests failing
    # among the last hour's 200
    tallies = FakeTallyStore()
    rng = random.Random(7)  # noqa: S311 - test data, not security
    month = [
        RequestSample(
            "GET /v1/onboarding/status",
            "user",
            503 if i < 10 else 200,
            20.0,
            _ms(NOW - timedelta(days=rng.uniform(1.5, 29))),
        )
        for i in range(10_000)
    ]
    hour = [
        RequestSample("GET /v1/onboarding/status", "user", 200, 20.0, _ms(NOW - timedelta(minutes=rng.uniform(6, 59))))
        for _ in range(160)
    ]
    burst = [
        RequestSample(
            "GET /v1/onboarding/status",
            "user",
            503 if i < 30 else 200,
            20.0,
            _ms(NOW - timedelta(minutes=rng.uniform(0, 4))),
        )
        for i in range(40)
    ]
    probes = [probe_sample(True, 30.0, _ms(NOW - timedelta(minutes=m))) for m in range(1, 120)]
    tallies.add(tally_samples(month + hour + burst + probes), token="incident")

    # When the objectives are checked
    check = SlaReports(tallies, now=lambda: NOW).breach_check()

    # Then the error rate burns at both page rules' short windows, its budget is partly spent, and not breached
    states = {o.key: o for o in check.objectives}
    error_rate = states["error-rate"]
    assert error_rate.state == "burning" and check.burning == ["error-rate"]
    fast = error_rate.burn_rates[0]
    assert (fast.long_minutes, fast.short_minutes, fast.burning) == (60, 5, True)
    assert fast.long_rate == pytest.approx(30 / 200 / 0.005, rel=1e-3)
    assert fast.short_rate == pytest.approx(30 / 40 / 0.005, rel=1e-3)
    assert error_rate.events == 10_200 and error_rate.bad_events == 40
    assert error_rate.budget_remaining == pytest.approx(1 - 40 / (0.005 * 10_200), abs=1e-5)
    # And availability (the probe, all ready) is ok; latency has nothing slow
    assert states["availability"].state == "ok" and states["availability"].compliance == 1.0
    assert states["latency-p95"].bad_events == 0
    assert check.breached == []


def test_an_objective_under_target_over_its_period_is_breached() -> None:
    tallies = FakeTallyStore()
    slow = [
        RequestSample(
            "POST /v1/onboarding/step",
            "user",
            200,
            900.0 if i % 10 == 0 else 50.0,
            _ms(NOW - timedelta(days=2, minutes=i)),
        )
        for i in range(500)
    ]
    tallies.add(tally_samples(slow), token="slow")

    states = {o.key: o for o in SlaReports(tallies, now=lambda: NOW).breach_check().objectives}

    # 10 % over 300 ms breaks "95 % within 300 ms"; none over 1 s keeps "99 % within 1 s"
    assert states["latency-p95"].state == "breached"
    assert states["latency-p95"].compliance == 0.9
    assert states["latency-p99"].state == "ok"
    assert states["availability"].state == "no_data"


@pytest.mark.parametrize("window", ["4m", "91d", "0h", "10000m"])
def test_a_window_outside_5m_to_90d_is_refused(window: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_window(window)
    assert refused.value.code == "VAL_REQUEST_INVALID"


def test_windows_are_read_at_the_coarsest_level_that_still_shows_their_shape() -> None:
    assert [level_for(parse_window(w)) for w in ("5m", "2h", "3h", "7d", "8d", "90d")] == [
        "minute",
        "minute",
        "hour",
        "hour",
        "day",
        "day",
    ]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
