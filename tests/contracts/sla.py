"""The contract of ``RequestTallies``: per-minute tallies added to their minute, hour and day, read back by window,
and a delivery added twice with the same token counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from firstmile.sla.ports import RequestTallies
from firstmile.sla.requests import RequestSample
from firstmile.sla.tallies import tally_samples

# Two hours ago, on the hour: well within every level's retention whenever the suite runs.
HOUR = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
STATUS = "GET /v1/onboarding/status"
STEP = "POST /v1/onboarding/step"


def sample(route: str, at: datetime, status: int = 200, ms: float = 20.0, code: str | None = None) -> RequestSample:
    return RequestSample(route, "user", status, ms, int(at.timestamp() * 1000), code)


class RequestTalliesContract:
    """Subclasses provide ``tallies``."""

    implementation: ClassVar[type]

    def test_a_minutes_tallies_read_back_at_every_level(self, tallies: RequestTallies) -> None:
        # Given requests of two routes in two minutes of one hour, with errors, codes and a slow one
        first, second = HOUR + timedelta(minutes=1), HOUR + timedelta(minutes=2, seconds=30)
        samples = [
            sample(STATUS, first, ms=12.0),
            sample(STATUS, first, 404, 3.0, "RES_NOT_FOUND"),
            sample(STATUS, second, 503, 40.0, "SYS_UNAVAILABLE"),
            sample(STEP, second, ms=450.0),
        ]
        tallies.add(tally_samples(samples), token="delivery-1")

        # When the minutes, the hour and the day are read
        minutes = tallies.read("minute", HOUR, HOUR + timedelta(hours=1))
        hours = tallies.read("hour", HOUR, HOUR + timedelta(hours=1))
        days = tallies.read("day", HOUR.replace(hour=0), HOUR.replace(hour=0) + timedelta(days=1))

        # Then each minute holds its own requests, in time order, and the hour and day hold them all per route
        assert [(r.start, r.route, r.tally.requests) for r in minutes] == [
            (first.replace(second=0), STATUS, 2),
            (second.replace(second=0), STATUS, 1),
            (second.replace(second=0), STEP, 1),
        ]
        for rows in (hours, days):
            by_route = {r.route: r for r in rows}
            assert set(by_route) == {STATUS, STEP}
            status = by_route[STATUS].tally
            assert (status.requests, status.server_errors, status.client_errors) == (3, 1, 1)
            assert status.by_code == {"RES_NOT_FOUND": 1, "SYS_UNAVAILABLE": 1}
            assert status.histogram.total == 3 and round(status.histogram.sum_ms, 3) == 55.0
            assert by_route[STEP].tally.slower_than == {300: 1}
            assert by_route[STATUS].audience == "user"

    def test_the_same_delivery_added_twice_counts_once(self, tallies: RequestTallies) -> None:
        at = HOUR + timedelta(minutes=7)
        delivery = tally_samples([sample(STATUS, at), sample(STATUS, at, ms=80.0)])

        tallies.add(delivery, token="delivery-2")
        tallies.add(delivery, token="delivery-2")
        tallies.add(tally_samples([sample(STATUS, at)]), token="delivery-3")

        (minute,) = tallies.read("minute", at.replace(second=0), at.replace(second=0) + timedelta(minutes=1))
        assert minute.tally.requests == 3
        assert minute.tally.histogram.total == 3

    def test_a_delivery_is_claimed_once(self, tallies: RequestTallies) -> None:
        assert [tallies.claim("delivery-4"), tallies.claim("delivery-4"), tallies.claim("delivery-5")] == [
            True,
            False,
            True,
        ]

    def test_a_window_reads_only_the_periods_starting_in_it(self, tallies: RequestTallies) -> None:
        tallies.add(
            tally_samples([sample(STEP, HOUR + timedelta(minutes=m)) for m in (10, 11, 12, 59)]),
            token="delivery-4",
        )

        rows = tallies.read("minute", HOUR + timedelta(minutes=11), HOUR + timedelta(minutes=59))

        assert [r.start for r in rows] == [HOUR + timedelta(minutes=11), HOUR + timedelta(minutes=12)]
        assert tallies.read("minute", HOUR - timedelta(hours=3), HOUR) == []
