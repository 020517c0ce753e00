"""Funnel counters kept at write time equal a brute-force count of the raw events, however the stream delivers them.

The ledger below applies each event's updates as the aggregator's transaction does: only when the event's marker is
not there yet, and then the marker with them. Batches arrive repeated, duplicated and out of order, as a stream
consumer's retries, bisections and redeliveries make them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firstmile.analytics.aggregation import FunnelAggregation
from firstmile.analytics.counting import (
    ALL,
    DIMENSIONS,
    FLOW,
    AnalyticsEvent,
    Counts,
    add_up,
    durations,
    marker_id,
    updates,
)
from firstmile.analytics.histogram import bucket_of
from firstmile.onboarding.models import EventType
from tests.fakes.analytics import FakeFunnelCounterStore
from tests.unit.analytics.streams import stream_record

TENANT, FLOW_ID, VERSION = "acme", "welcome", 3
STEPS = ("profile", "invite", "connect", "first-run")
REASONS = ("not-now", "no-team", "too-long")
START = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)


@dataclass
class Ledger:
    """Counter items and markers, changed as one transaction per event (or without markers, to see them matter)."""

    markers: bool = True
    seen: set[str] = field(default_factory=set)
    items: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)

    def count(self, batch: Iterable[AnalyticsEvent]) -> None:
        for event in batch:
            marker = marker_id(event)
            if self.markers and marker in self.seen:
                continue
            self.seen.add(marker)
            for update in updates(event):
                item = self.items.setdefault((update.key.pk, update.key.sk), Counter())
                item.update(update.amounts)

    def read(self, segment: str, period: str = "DAY#") -> Counts:
        pk = f"TENANT#{TENANT}#FUNNEL#{FLOW_ID}#V#{VERSION}#SEG#{segment}"
        return add_up((sk, item) for (p, sk), item in self.items.items() if p == pk and sk.startswith(period))


# --- histories --------------------------------------------------------------------------------------------------


@st.composite
def user_history(draw: st.DrawFn, n: int) -> list[AnalyticsEvent]:
    """One user's events in the order they happened: enrolment, some steps started, completed or skipped (with a
    reason), and perhaps the flow completed or skipped."""
    enrolled_at = START + timedelta(seconds=draw(st.integers(0, 4 * 86_400)))
    segment = {
        d: v
        for d in DIMENSIONS
        if (v := draw(st.sampled_from(["", "a", "b"]) if d != "returning" else st.sampled_from(["", "true", "false"])))
    }
    sample, opted_out = draw(st.booleans()), draw(st.booleans())
    at = enrolled_at
    events: list[AnalyticsEvent] = []

    def add(kind: EventType, step: str | None = None, reason: str | None = None, *, was_skipped: bool = False) -> None:
        events.append(
            AnalyticsEvent(
                tenant=TENANT,
                key=f"TENANT#{TENANT}#USER#u{n}|ONBOARDING#EVENT#{len(events):03d}",
                type=kind,
                at=at,
                enrolled_at=enrolled_at,
                flow_id=FLOW_ID,
                flow_version=VERSION,
                step_id=step,
                segment=segment,
                reason=reason,
                sample=sample,
                opted_out=opted_out,
                was_skipped=was_skipped,
            )
        )

    add(EventType.ENROLLED)
    for step in STEPS:
        at += timedelta(seconds=draw(st.floats(0, 3 * 86_400, allow_nan=False)))
        action = draw(
            st.sampled_from(["none", "start", "start-complete", "complete", "skip", "skip-start", "skip-complete"])
        )
        if action.startswith("skip"):
            add(EventType.STEP_SKIPPED, step, draw(st.sampled_from((None, *REASONS))))
        # A skipped step taken up again says so (onboarding's "was": "skipped")
        if action in ("start", "start-complete", "skip-start"):
            add(EventType.STEP_STARTED, step, was_skipped=action == "skip-start")
        if action in ("complete", "start-complete", "skip-complete"):
            add(EventType.STEP_COMPLETED, step, was_skipped=action == "skip-complete")
    ending = draw(st.sampled_from(["open", "completed", "skipped", "dropped", "dropped-returned"]))
    if ending.startswith("dropped"):
        # The idle job drops them where they stopped; a later change first says they returned
        stopped = draw(st.sampled_from((None, *STEPS)))
        at += timedelta(days=8)
        add(EventType.DROPPED, stopped)
        if ending == "dropped-returned":
            at += timedelta(days=draw(st.integers(1, 30)))
            add(EventType.RETURNED, stopped)
    elif ending == "completed":
        add(EventType.ONBOARDING_COMPLETED)
    elif ending == "skipped":
        add(EventType.ONBOARDING_SKIPPED, reason=draw(st.sampled_from((None, *REASONS))))
    return events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[AnalyticsEvent], list[list[AnalyticsEvent]]]:
    """Every user's events, and the batches a stream consumer receives: in some order, cut into batches, each batch
    delivered at least once, some again (a retry, a bisection's halves, a redelivery), in any order."""
    users = draw(st.integers(1, 12))
    events = [e for n in range(users) for e in draw(user_history(n))]
    ordered = draw(st.permutations(events))
    size = draw(st.integers(1, 10))
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    repeats = draw(st.lists(st.sampled_from(batches), max_size=len(batches))) if batches else []
    halves = [b[: len(b) // 2] for b in draw(st.lists(st.sampled_from(batches), max_size=3))] if batches else []
    delivered = draw(st.permutations(batches + repeats + halves))
    return events, delivered


# --- brute force --------------------------------------------------------------------------------------------------


def brute_force(events: Iterable[AnalyticsEvent], belongs: Callable[[AnalyticsEvent], bool]) -> dict[str, Counter[str]]:
    """Count the distinct, counted events of a segment straight from the raw events, by step and for the flow. A
    step counts as skipped when the user's last move on it was a skip (a skip taken up again is not one)."""
    counts: dict[str, Counter[str]] = {}
    last_move: dict[tuple[str, str], EventType] = {}
    for event in sorted({e.key: e for e in events}.values(), key=lambda e: e.key):
        if event.sample or event.opted_out or not belongs(event):
            continue
        target = event.step_id or FLOW
        into = counts.setdefault(target, Counter())
        seconds = max((event.at - event.enrolled_at).total_seconds(), 0.0)
        kind = event.type
        if event.step_id and kind in (EventType.STEP_STARTED, EventType.STEP_COMPLETED, EventType.STEP_SKIPPED):
            last_move[(event.key.split("|")[0], event.step_id)] = kind
        if kind in (EventType.ENROLLED, EventType.RESTARTED):
            into["enrolled"] += 1
        elif kind in (EventType.STEP_STARTED,):
            into["entered"] += 1
        elif kind in (EventType.STEP_COMPLETED, EventType.ONBOARDING_COMPLETED):
            into["completed"] += 1
            into["seconds"] += seconds
            into[f"h{bucket_of(seconds)}"] += 1
        elif kind == EventType.ONBOARDING_SKIPPED:
            into["skipped"] += 1
        elif kind == EventType.DROPPED:
            into["dropped"] += 1
        elif kind == EventType.RETURNED:
            into["dropped"] -= 1
        if kind in (EventType.STEP_SKIPPED, EventType.ONBOARDING_SKIPPED) and event.reason:
            into[f"r#{event.reason}"] += 1
    for (_, step), kind in last_move.items():
        if kind == EventType.STEP_SKIPPED:
            counts[step]["skipped"] += 1
    return counts


def segments_of(events: Iterable[AnalyticsEvent]) -> dict[str, Callable[[AnalyticsEvent], bool]]:
    """Every segment the events name, with the test of whether an event belongs to it."""
    found: dict[str, Callable[[AnalyticsEvent], bool]] = {ALL: lambda e: True}
    for event in events:
        for dimension, value in event.segment.items():
            found[f"{dimension}={value}"] = lambda e, d=dimension, v=value: e.segment.get(d) == v
    return found


def unpacked(counts: Mapping[str, float]) -> dict[str, float]:
    """Counter attributes with the packed histogram numbers read back as one ``h<bucket>`` count each."""
    plain = {k: v for k, v in counts.items() if not (k.startswith("h") and k[1:].isdigit())}
    return plain | {f"h{bucket}": n for bucket, n in durations(counts).counts.items()}


def assert_same(counts: Counts, expected: Mapping[str, Counter[str]]) -> None:
    targets = set(counts.by_target) | set(expected)
    for target in targets:
        kept = {k: v for k, v in unpacked(counts.by_target.get(target, {})).items() if v}
        wanted = {k: v for k, v in expected.get(target, Counter()).items() if v}
        assert kept.keys() - {"seconds"} == wanted.keys() - {"seconds"}, target
        # The stores keep each event's seconds to the millisecond; the brute force sums them exactly.
        rounding = 0.0005 * (wanted.get("completed", 0) + 1)
        assert abs(kept.get("seconds", 0) - wanted.get("seconds", 0)) <= 1e-6 * wanted.get("seconds", 0) + rounding
        for name, value in wanted.items():
            if name != "seconds":
                assert abs(kept[name] - value) <= 1e-6 * max(1.0, abs(value)), (target, name)


# --- properties ----------------------------------------------------------------------------------------------------


@settings(max_examples=150)
@given(deliveries())
def test_counters_equal_a_brute_force_count_however_batches_arrive(
    delivery: tuple[list[AnalyticsEvent], list[list[AnalyticsEvent]]],
) -> None:
    # Given every user's events, delivered in batches repeated, halved and out of order
    events, batches = delivery

    # When the aggregator counts each batch as it arrives
    ledger = Ledger()
    for batch in batches:
        ledger.count(batch)

    # Then every segment's day counters (and the unsegmented hour counters) are the brute-force counts
    for segment, belongs in segments_of(events).items():
        assert_same(ledger.read(segment), brute_force(events, belongs))
    assert_same(ledger.read(ALL, "HOUR#"), brute_force(events, lambda e: True))
    # ...each day and each hour holding the events of the users who enrolled in it
    for day in {e.enrolled_at.date() for e in events if e.enrolled_at}:
        assert_same(
            ledger.read(ALL, f"DAY#{day.isoformat()}#"),
            brute_force(events, lambda e, d=day: e.enrolled_at is not None and e.enrolled_at.date() == d),
        )
    for hour in {e.enrolled_at.strftime("%Y-%m-%dT%H") for e in events if e.enrolled_at}:
        assert_same(
            ledger.read(ALL, f"HOUR#{hour}#"),
            brute_force(
                events, lambda e, h=hour: e.enrolled_at is not None and e.enrolled_at.strftime("%Y-%m-%dT%H") == h
            ),
        )


def test_without_the_marker_a_repeated_batch_counts_twice() -> None:
    # Given a user's enrolment and completed step, delivered twice (a consumer retried the batch)
    enrolled = AnalyticsEvent(TENANT, "k1", EventType.ENROLLED, START, START, FLOW_ID, VERSION)
    completed = AnalyticsEvent(
        TENANT, "k2", EventType.STEP_COMPLETED, START + timedelta(minutes=5), START, FLOW_ID, VERSION, "profile"
    )
    counted, unguarded = Ledger(), Ledger(markers=False)
    for ledger in (counted, unguarded):
        ledger.count([enrolled, completed])
        ledger.count([completed, enrolled])

    # Then with markers each counts once, and without them twice
    assert counted.read(ALL).of("profile", "completed") == 1
    assert counted.read(ALL).of(FLOW, "enrolled") == 1
    assert unguarded.read(ALL).of("profile", "completed") == 2


def test_sample_users_and_opted_out_users_add_nothing() -> None:
    base = AnalyticsEvent(TENANT, "k", EventType.ENROLLED, START, START, FLOW_ID, VERSION)
    assert updates(AnalyticsEvent(**{**base.__dict__, "sample": True})) == []
    assert updates(AnalyticsEvent(**{**base.__dict__, "opted_out": True})) == []
    assert updates(base) != []


def test_an_event_touches_at_most_six_counter_items_and_names_no_user() -> None:
    # Given an event of a user with every segment value
    event = AnalyticsEvent(
        TENANT,
        "TENANT#acme#USER#alice@example.com|ONBOARDING#EVENT#001",
        EventType.STEP_COMPLETED,
        START + timedelta(hours=2),
        START,
        FLOW_ID,
        VERSION,
        "profile",
        segment={"country": "DE", "locale": "de-DE", "plan": "pro", "returning": "false"},
    )

    # When its updates and marker are made
    made = updates(event)

    # Then it is the enrolment hour and day of the whole funnel, and that day for each segment value...
    assert len(made) == 6
    assert {u.key.segment for u in made} == {ALL, "country=DE", "locale=de-DE", "plan=pro", "returning=false"}
    assert {u.key.period for u in made} == {f"HOUR#{START:%Y-%m-%dT%H}", "DAY#2026-11-28"}
    # ...and the counters do not carry the user's id; the marker is a digest of the event's key (another event,
    # another marker)
    assert all("alice" not in u.key.pk + u.key.sk + "".join(u.amounts) for u in made)
    assert marker_id(event) == hashlib.sha256(f"{TENANT}\n{event.key}".encode()).hexdigest()
    assert marker_id(event) != marker_id(replace(event, key=event.key + "x"))


def test_a_skip_taken_up_again_no_longer_counts_and_an_unknown_reason_counts_as_other() -> None:
    base = AnalyticsEvent(
        TENANT, "k1", EventType.STEP_SKIPPED, START, START, FLOW_ID, VERSION, "invite", reason="Too long!"
    )
    skipped, taken_up = (
        updates(base)[0].amounts,
        updates(replace(base, type=EventType.STEP_COMPLETED, was_skipped=True))[0].amounts,
    )
    assert skipped == {"skipped": 1, "r#other": 1}
    assert taken_up["completed"] == 1 and taken_up["skipped"] == -1


@given(delivery=deliveries())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_aggregator_counts_stream_batches_as_a_brute_force_count_however_they_arrive(
    delivery: tuple[list[AnalyticsEvent], list[list[AnalyticsEvent]]],
) -> None:
    # Given every user's events as the stream's records, delivered in batches repeated, halved and out of order
    events, batches = delivery
    sequence = {event.key: n for n, event in enumerate(events)}

    # When the aggregator consumes each batch over the counter store (events counted together, one by one after a
    # redelivery)
    store = FakeFunnelCounterStore()
    aggregation = FunnelAggregation(store, clock=lambda: START)
    for batch in batches:
        outcome = aggregation.consume([stream_record(e, sequence[e.key]) for e in batch])
        assert outcome.failed_at is None

    # Then every segment's counters are the brute-force counts of the raw events
    def read(segment: str, period: str = "DAY") -> Counts:
        first, last = ("2026-11-01", "2026-12-31") if period == "DAY" else ("2026-11-01T00", "2026-12-31T23")
        return add_up(store.read(TENANT, FLOW_ID, VERSION, segment, period, first, last))

    for segment, belongs in segments_of(events).items():
        assert_same(read(segment), brute_force(events, belongs))
    assert_same(read(ALL, "HOUR"), brute_force(events, lambda e: True))
