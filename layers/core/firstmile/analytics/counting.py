"""What one onboarding event adds to the funnel counters, and how counter items read back as counts (decision 0070).

Pure: no I/O. The aggregator applies an event's ``updates`` with ``ADD`` in one transaction with the event's marker,
so an event counts once however often it is delivered; counts are sums, so the order of events does not matter.
Each event carries what counting it needs (enrolment time, segment values, opt-out), so no other item is read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from firstmile.analytics.histogram import Histogram, bucket_of
from firstmile.onboarding.models import REASON_CODE_PATTERN, SEGMENT_ATTRIBUTES, EventType

ALL = "all"
# A duration histogram's counts, packed four buckets to a number beside the exact sum ``seconds``: ``h<g>`` holds
# buckets 4g to 4g+3, bucket 4g+k in the k-th field of nine digits, so ``ADD h<g> 10^(9k)`` counts one. A day item
# then carries at most 27 histogram numbers (106 buckets), a quarter of one attribute per bucket: a funnel read
# parses that many fewer values (bench/analytics.py). Nine digits hold a billion users per step and day.
HISTOGRAM = "h"
BUCKETS_PER_NUMBER = 4
FIELD = 10**9
# What a skip reason or an error code must look like to be counted under its own name (the API accepts no other;
# older events are counted as ``other``).
REASON = re.compile(REASON_CODE_PATTERN)
FLOW = "FLOW"
# Segment dimensions kept by day, beside the unsegmented funnel (which alone is also kept by hour): the attributes
# an enrolment keeps.
DIMENSIONS = SEGMENT_ATTRIBUTES


@dataclass(frozen=True)
class AnalyticsEvent:
    """An onboarding transition event as the aggregator reads it from the stream."""

    tenant: str
    # The event item's own key (``pk`` and ``sk``): unique per event, so it names the event's marker.
    key: str
    type: EventType
    at: datetime
    # None on events written before events carried it: counted on the event's own day, without a duration.
    enrolled_at: datetime | None
    flow_id: str
    flow_version: int
    step_id: str | None = None
    segment: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    # A step error's code (``step_error`` events only).
    error_code: str | None = None
    # The step was skipped before this event took it up again: the skip no longer counts.
    was_skipped: bool = False
    sample: bool = False
    opted_out: bool = False


@dataclass(frozen=True)
class CounterKey:
    """One counter item: a tenant's flow version, a segment (``dimension``=``value``, or ``all``), a day or an
    hour, and a step (or ``FLOW`` for the flow as a whole)."""

    tenant: str
    flow_id: str
    flow_version: int
    segment: str
    period: str  # DAY#<yyyy-mm-dd> or HOUR#<yyyy-mm-ddThh>
    target: str  # a step id, or FLOW

    @property
    def pk(self) -> str:
        return funnel_partition(self.tenant, self.flow_id, self.flow_version, self.segment)

    @property
    def sk(self) -> str:
        return f"{self.period}#STEP#{self.target}"


def funnel_partition(tenant: str, flow_id: str, flow_version: int, segment: str) -> str:
    """The partition of one flow version's counters in one segment."""
    return f"TENANT#{tenant}#FUNNEL#{flow_id}#V#{flow_version}#SEG#{segment}"


def period_bounds(period: str, first: str, last: str) -> tuple[str, str]:
    """The sort keys between which the counter items of ``period`` (``DAY`` or ``HOUR``) from ``first`` to ``last``
    lie, both included."""
    return f"{period}#{first}", f"{period}#{last}#~"


@dataclass(frozen=True)
class CounterUpdate:
    """Amounts to ADD to one counter item's attributes."""

    key: CounterKey
    amounts: Mapping[str, int | float]


def is_counted(event: AnalyticsEvent) -> bool:
    """Sample users and users who opted out of analytics are never counted."""
    return not event.sample and not event.opted_out


def marker_id(event: AnalyticsEvent) -> str:
    """The event's marker: a hash of its item key, so the marker names no user in the clear."""
    return hashlib.sha256(f"{event.tenant}\n{event.key}".encode()).hexdigest()


def _reason(reason: str) -> str:
    """A reason as a counter's name: a short code, or ``other`` (a counter never holds free text)."""
    return reason if REASON.fullmatch(reason) else "other"


def _amounts(event: AnalyticsEvent) -> tuple[str, dict[str, int | float]] | None:
    """The counted target (a step or the flow) and what the event adds to it; ``None`` when the event adds nothing."""
    reached: dict[str, int | float] = {}
    if event.enrolled_at is not None:
        seconds = max((event.at - event.enrolled_at).total_seconds(), 0.0)
        reached = {"seconds": seconds, **dict([histogram_count(bucket_of(seconds))])}
    reason = {f"r#{_reason(event.reason)}": 1} if event.reason else {}
    unskip = {"skipped": -1} if event.was_skipped else {}
    match event.type:
        case EventType.ENROLLED | EventType.RESTARTED:
            # A restart enrols the user again, on a new enrolment day: another entry into the funnel.
            return FLOW, {"enrolled": 1}
        case EventType.ONBOARDING_COMPLETED:
            return FLOW, {"completed": 1, **reached}
        case EventType.ONBOARDING_SKIPPED:
            return FLOW, {"skipped": 1, **reason}
        case EventType.STEP_STARTED if event.step_id:
            return event.step_id, {"entered": 1, **unskip}
        case EventType.STEP_COMPLETED if event.step_id:
            return event.step_id, {"completed": 1, **reached, **unskip}
        case EventType.STEP_SKIPPED if event.step_id:
            return event.step_id, {"skipped": 1, **reason}
        case EventType.DROPPED:
            return event.step_id or FLOW, {"dropped": 1}
        case EventType.RETURNED:
            return event.step_id or FLOW, {"dropped": -1}
        case EventType.STEP_ERROR if event.step_id:
            return event.step_id, {"errors": 1, f"e#{_reason(event.error_code or 'other')}": 1}
    return None


def updates(event: AnalyticsEvent) -> list[CounterUpdate]:
    """The counter updates of one event: the unsegmented funnel by enrolment day and by enrolment hour, and each
    segment value the event carries by enrolment day. None for an event that is not counted.

    Days and hours are the user's enrolment day and hour, whenever the event happens: a funnel over days (or the
    last 24 hours) is then the users who entered then and what they have done since, so its conversions are
    proportions of one group (never over 100 % when steps are taken in order) and two periods compare with a
    significance test; a week's days add up to its cohort. An event from before events carried their enrolment
    counts on its own day and hour."""
    counted = _amounts(event) if is_counted(event) else None
    if counted is None:
        return []
    target, amounts = counted
    entered = event.enrolled_at or event.at
    day, hour = f"DAY#{entered.date().isoformat()}", f"HOUR#{entered.strftime('%Y-%m-%dT%H')}"
    segments = [ALL]
    segments += [f"{d}={event.segment[d]}" for d in DIMENSIONS if event.segment.get(d)]

    def key(segment: str, period: str) -> CounterKey:
        return CounterKey(event.tenant, event.flow_id, event.flow_version, segment, period, target)

    return [CounterUpdate(key(ALL, hour), amounts)] + [CounterUpdate(key(s, day), amounts) for s in segments]


@dataclass(frozen=True)
class Counts:
    """Counter items added up: per target (a step id or ``FLOW``), each attribute's total."""

    by_target: Mapping[str, Mapping[str, float]]

    def of(self, target: str, attribute: str) -> float:
        return self.by_target.get(target, {}).get(attribute, 0)


def add_up(items: Iterable[tuple[str, Mapping[str, int | float]]]) -> Counts:
    """Add up counter items given as (sort key, attributes): what a funnel read does with the items of its Query."""
    totals: dict[str, dict[str, float]] = {}
    for sk, attributes in items:
        target = sk.rsplit("#STEP#", 1)[1]
        into = totals.setdefault(target, {})
        for name, amount in attributes.items():
            into[name] = into.get(name, 0) + amount
    return Counts(totals)


def histogram_count(bucket: int) -> tuple[str, int]:
    """The histogram number that holds ``bucket`` and the amount that counts one in it."""
    group, place = divmod(bucket, BUCKETS_PER_NUMBER)
    return f"{HISTOGRAM}{group}", FIELD**place


def durations(counts: Mapping[str, float]) -> Histogram:
    """The histogram of times to reach kept in one target's counts (its packed ``h<g>`` numbers and ``seconds``)."""
    buckets: dict[int, int] = {}
    for name, packed in counts.items():
        group = name[len(HISTOGRAM) :]
        if not name.startswith(HISTOGRAM) or not group.isdigit():
            continue
        number = int(packed)
        for place in range(BUCKETS_PER_NUMBER):
            if number // FIELD**place % FIELD:
                buckets[int(group) * BUCKETS_PER_NUMBER + place] = number // FIELD**place % FIELD
    return Histogram(buckets, float(counts.get("seconds", 0.0)))
