"""A stream batch counted into the funnel counters on the in-memory store: each event once, the batch stopping at
the first record it cannot count, and a retry from there finishing the job without counting anything twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile.analytics.aggregation import FunnelAggregation
from firstmile.analytics.counting import Counts, add_up
from firstmile.errors import DependencyUnavailableError
from firstmile.onboarding.models import EventType, TransitionEvent
from firstmile.platform.items import attribute, storable
from tests.fakes.analytics import FakeFunnelCounterStore

AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def record(n: int, kind: EventType, step: str | None = None, *, sample: bool = False) -> dict[str, Any]:
    """The stream record of user ``u-<n>``'s event, numbered ``n`` in the shard."""
    happened = TransitionEvent(
        tenant="acme",
        user=f"u-{n}",
        type=kind,
        at=AT + timedelta(minutes=n),
        flow_id="welcome",
        flow_version=1,
        step_id=step,
        progress_version=1,
        sample=sample,
        enrolled_at=AT,
        segment={"plan": "pro"},
    )
    body = {k: v for k, v in happened.model_dump(mode="json").items() if v is not None}
    item = {"pk": f"TENANT#acme#USER#u-{n}", "sk": f"ONBOARDING#EVENT#{n:03d}", "kind": "onboarding_event", **body}
    image = {k: attribute(storable(v)) for k, v in item.items()}
    return {"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": image}}


def progress_change(n: int) -> dict[str, Any]:
    image = {"pk": {"S": f"TENANT#acme#USER#u-{n}"}, "sk": {"S": "ONBOARDING#PROGRESS"}, "kind": {"S": "x"}}
    return {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": image}}


def funnel(store: FakeFunnelCounterStore, segment: str = "all") -> Counts:
    return add_up(store.read("acme", "welcome", 1, segment, "DAY", "2026-12-01", "2026-12-03"))


BATCH = [
    record(1, EventType.ENROLLED),
    record(2, EventType.STEP_COMPLETED, "profile"),
    progress_change(3),
    record(4, EventType.STEP_COMPLETED, "profile"),
    record(5, EventType.ENROLLED, sample=True),
    record(6, EventType.STEP_SKIPPED, "invite"),
]


def test_a_batch_counts_each_event_once_and_passes_over_the_rest() -> None:
    store = FakeFunnelCounterStore()
    aggregation = FunnelAggregation(store, clock=lambda: AT)

    outcome = aggregation.consume(BATCH)
    again = aggregation.consume(BATCH)

    assert (outcome.counted, outcome.repeated, outcome.passed_over, outcome.failed_at) == (4, 0, 2, None)
    assert outcome.batch_item_failures() == []
    assert (again.counted, again.repeated) == (0, 4)
    counts = funnel(store)
    assert (counts.of("FLOW", "enrolled"), counts.of("profile", "completed"), counts.of("invite", "skipped")) == (
        1,
        2,
        1,
    )
    assert funnel(store, "plan=pro").of("profile", "completed") == 2


def test_a_batch_is_one_write_and_a_redelivered_one_counts_only_what_was_not_counted() -> None:
    # Given a batch of four events
    store = FakeFunnelCounterStore()
    aggregation = FunnelAggregation(store, clock=lambda: AT)

    # When it is counted, and delivered again with two more events
    aggregation.consume(BATCH)
    writes = store.faults.calls["count"]
    again = aggregation.consume(
        [*BATCH, record(7, EventType.STEP_COMPLETED, "invite"), record(8, EventType.STEP_COMPLETED, "profile")]
    )

    # Then the first delivery was one write; the second found markers there, read which (one request), and counted
    # the two new events together: a write that failed and one that counted
    assert writes == 1
    assert (again.counted, again.repeated) == (2, 4)
    assert (store.faults.calls["count"], store.faults.calls["counted"]) == (3, 1)
    assert funnel(store).of("invite", "completed") == 1
    assert funnel(store).of("profile", "completed") == 3


def test_the_batch_stops_at_a_failing_record_and_its_retry_counts_nothing_twice() -> None:
    # Given the table failing the batch's write, then, counting event by event, the third event's
    store = FakeFunnelCounterStore()
    store.faults.unavailable("count")
    store.faults.unavailable("count", after=2)
    aggregation = FunnelAggregation(store, clock=lambda: AT)

    # When the batch is consumed, then retried from the record it stopped at (as the stream does)
    outcome = aggregation.consume(BATCH)
    stopped = [r["dynamodb"]["SequenceNumber"] for r in BATCH].index(outcome.failed_at)
    retry = aggregation.consume(BATCH[stopped:])

    # Then the first pass counted two events and named the fourth record; the retry counted the rest
    [failure] = outcome.batch_item_failures()
    assert failure["itemIdentifier"] == f"{4:021d}"
    # with what it failed with, for its failure record (decision 0090)
    assert isinstance(failure["error"], DependencyUnavailableError)
    assert (outcome.counted, retry.counted, retry.failed_at) == (2, 2, None)
    counts = funnel(store)
    assert (counts.of("FLOW", "enrolled"), counts.of("profile", "completed"), counts.of("invite", "skipped")) == (
        1,
        2,
        1,
    )


def test_an_event_item_that_does_not_read_as_an_event_stops_the_batch_at_it() -> None:
    broken = record(2, EventType.STEP_COMPLETED, "profile")
    del broken["dynamodb"]["NewImage"]["flow_version"]
    store = FakeFunnelCounterStore()

    outcome = FunnelAggregation(store, clock=lambda: AT).consume([record(1, EventType.ENROLLED), broken])

    assert (outcome.counted, outcome.failed_at) == (1, f"{2:021d}")


@pytest.mark.parametrize("records", [[], [progress_change(1)]])
def test_a_batch_without_events_counts_nothing(records: list[dict[str, Any]]) -> None:
    outcome = FunnelAggregation(FakeFunnelCounterStore()).consume(records)
    assert (outcome.counted, outcome.failed_at) == (0, None)
