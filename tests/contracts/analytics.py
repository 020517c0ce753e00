"""The contract of ``FunnelCounters``: an event's counter updates added exactly once, with its marker, and read
back by flow version, segment and period range."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import pytest

from firstmile.analytics.counting import CounterKey, CounterUpdate
from firstmile.analytics.ports import MAX_WRITE_ITEMS, FunnelCounters
from firstmile.errors import DependencyUnavailableError

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
TENANT = "acme"


def update(period: str, target: str, segment: str = "all", flow_version: int = 1, **amounts: float) -> CounterUpdate:
    return CounterUpdate(CounterKey(TENANT, "welcome", flow_version, segment, period, target), amounts)


class FunnelCountersContract:
    """Subclasses provide ``counters``."""

    implementation: ClassVar[type]

    def test_an_events_updates_are_added_once_however_often_it_comes(self, counters: FunnelCounters) -> None:
        # Given an event's updates: a completed step and its duration, by day and by hour
        updates = [
            update("DAY#2026-12-02", "profile", completed=1, seconds=90.5, h27=1),
            update("HOUR#2026-12-02T10", "profile", completed=1, seconds=90.5, h27=1),
        ]

        # When it is counted, then counted again under the same marker (a redelivery)
        first = counters.count(TENANT, "m-1", updates, NOW)
        again = counters.count(TENANT, "m-1", updates, NOW)

        # Then only the first added anything
        assert (first, again) == (True, False)
        day = counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-02", "2026-12-02")
        assert day == [("DAY#2026-12-02#STEP#profile", {"completed": 1, "seconds": 90.5, "h27": 1})]
        hour = counters.read(TENANT, "welcome", 1, "all", "HOUR", "2026-12-02T10", "2026-12-02T10")
        assert hour == [("HOUR#2026-12-02T10#STEP#profile", {"completed": 1, "seconds": 90.5, "h27": 1})]

    def test_events_add_up_per_item_and_attribute(self, counters: FunnelCounters) -> None:
        counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "profile", entered=1)], NOW)
        counters.count(TENANT, "m-2", [update("DAY#2026-12-02", "profile", completed=1, seconds=10.25)], NOW)
        counters.count(TENANT, "m-3", [update("DAY#2026-12-02", "profile", completed=1, seconds=5.5)], NOW)

        assert counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-02", "2026-12-02") == [
            ("DAY#2026-12-02#STEP#profile", {"entered": 1, "completed": 2, "seconds": 15.75})
        ]

    def test_a_read_holds_its_segment_version_and_days_only_in_key_order(self, counters: FunnelCounters) -> None:
        # Given counters on three days, of two segments and two versions
        for n, (day, segment, version) in enumerate(
            [
                ("2026-11-30", "all", 1),
                ("2026-12-01", "all", 1),
                ("2026-12-02", "all", 1),
                ("2026-12-01", "country=DE", 1),
                ("2026-12-01", "all", 2),
            ]
        ):
            counters.count(TENANT, f"m-{n}", [update(f"DAY#{day}", "invite", segment, version, completed=1)], NOW)
        counters.count(TENANT, "m-flow", [update("DAY#2026-12-01", "FLOW", enrolled=1)], NOW)

        # When the days 1 and 2 of December of version 1's whole funnel are read
        read = counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-01", "2026-12-02")

        # Then both days are there, the flow's item too, and nothing of another day, segment or version
        assert [sk for sk, _ in read] == [
            "DAY#2026-12-01#STEP#FLOW",
            "DAY#2026-12-01#STEP#invite",
            "DAY#2026-12-02#STEP#invite",
        ]
        assert counters.read(TENANT, "welcome", 1, "country=DE", "DAY", "2026-12-01", "2026-12-02") == [
            ("DAY#2026-12-01#STEP#invite", {"completed": 1})
        ]
        assert counters.read(TENANT, "welcome", 1, "all", "HOUR", "2026-12-01T00", "2026-12-02T23") == []

    def test_events_counted_together_add_up_all_or_nothing(self, counters: FunnelCounters) -> None:
        # Given two events counted in one write, their counts merged per item
        merged = [update("DAY#2026-12-02", "FLOW", enrolled=2), update("DAY#2026-12-02", "profile", completed=1)]
        assert counters.count_together([(TENANT, "m-1"), ("other", "m-2")], merged, NOW) is True

        # When a later write holds one of their markers again
        again = counters.count_together(
            [(TENANT, "m-3"), ("other", "m-2")], [update("DAY#2026-12-02", "FLOW", enrolled=5)], NOW
        )

        # Then it adds nothing, not even for the new event, and says so
        assert again is False
        assert counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-02", "2026-12-02") == [
            ("DAY#2026-12-02#STEP#FLOW", {"enrolled": 2}),
            ("DAY#2026-12-02#STEP#profile", {"completed": 1}),
        ]
        # ...and the event whose marker was not taken is counted when it comes alone
        assert counters.count(TENANT, "m-3", [update("DAY#2026-12-02", "FLOW", enrolled=5)], NOW) is True

    def test_the_markers_there_are_the_events_counted(self, counters: FunnelCounters) -> None:
        counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW)
        counters.count("other", "m-2", [], NOW)

        assert counters.counted([(TENANT, "m-1"), (TENANT, "m-2"), ("other", "m-2"), ("other", "m-1")]) == {
            (TENANT, "m-1"),
            ("other", "m-2"),
        }
        assert counters.counted([]) == set()

    def test_a_write_holds_at_most_a_transactions_items(self, counters: FunnelCounters) -> None:
        markers = [(TENANT, f"m-{n}") for n in range(MAX_WRITE_ITEMS)]
        with pytest.raises(ValueError, match="more than one counting write holds"):
            counters.count_together(markers, [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW)

    def test_another_tenants_marker_does_not_stop_an_event(self, counters: FunnelCounters) -> None:
        counters.count("other", "m-1", [], NOW)
        assert counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW) is True


class FakeOnlyFunnelCountersContract:
    """What only a fake can be told to do: fail, as a throttled table does."""

    def test_an_unavailable_table_counts_nothing_and_says_so(self, counters: FunnelCounters) -> None:
        faults = counters.faults  # type: ignore[attr-defined]
        faults.unavailable("count")
        with pytest.raises(DependencyUnavailableError):
            counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW)
        assert counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW) is True
