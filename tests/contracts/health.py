"""The contract of ``ProbeResults``: the synthetic probe's results, kept and read back by the day they were checked
on, newest first, for as long as they are retained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from firstmile.health.models import ComponentStatus, Readiness
from firstmile.health.ports import ProbeResults

# Today, so the results are well within their retention whatever day the suite runs on.
TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def result(at: datetime, *failed: str) -> Readiness:
    """A probe result checked at ``at``: the table and a queue, those named in ``failed`` failing."""
    components = [
        ComponentStatus(
            name=name,
            status="failed" if name in failed else "ok",
            latency_ms=12.5 if name == "table" else 3,
            reason="ResourceNotFoundException" if name in failed else None,
        )
        for name in ("table", "queue:flag-exposures")
    ]
    return Readiness(status="failed" if failed else "ok", checked_at=at, components=components)


class ProbeResultsContract:
    """Subclasses provide ``probe_results``."""

    implementation: ClassVar[type]

    def test_a_days_results_read_back_as_recorded_newest_first(self, probe_results: ProbeResults) -> None:
        # Given three results of one day, recorded out of order, and one of the day before
        morning, noon, evening = (TODAY - timedelta(hours=3), TODAY, TODAY + timedelta(hours=3, microseconds=500))
        probe_results.record(result(noon, "table"))
        probe_results.record(result(morning))
        probe_results.record(result(evening))
        probe_results.record(result(TODAY - timedelta(days=1)))

        # When the day is read
        day = probe_results.of_day(TODAY.date())

        # Then it holds that day's results only, newest first, each as it was checked
        assert [r.checked_at for r in day] == [evening, noon, morning]
        assert day == [result(evening), result(noon, "table"), result(morning)]
        assert day[1].failed == ["table"]
        assert day[1].components[0].reason == "ResourceNotFoundException"
        assert day[0].components[0].reason is None

    def test_results_are_kept_per_day(self, probe_results: ProbeResults) -> None:
        yesterday = TODAY - timedelta(days=1)
        probe_results.record(result(yesterday))

        assert probe_results.of_day(yesterday.date()) == [result(yesterday)]
        assert probe_results.of_day(TODAY.date()) == []
        assert probe_results.of_day((TODAY + timedelta(days=1)).date()) == []

    def test_a_result_of_the_same_instant_replaces_the_kept_one(self, probe_results: ProbeResults) -> None:
        probe_results.record(result(TODAY))
        probe_results.record(result(TODAY, "queue:flag-exposures"))

        assert probe_results.of_day(TODAY.date()) == [result(TODAY, "queue:flag-exposures")]

    def test_results_past_their_retention_are_not_read(self, probe_results: ProbeResults) -> None:
        # Given results of a day 100 days ago (retained for 90), which the TTL sweeper may not have removed yet
        long_ago = TODAY - timedelta(days=100)
        probe_results.record(result(long_ago))
        probe_results.record(result(long_ago + timedelta(hours=1)))

        # Then that day reads as empty
        assert probe_results.of_day(long_ago.date()) == []
