"""Reading onboarding events out of the table's change stream records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from firstmile.analytics.counting import updates
from firstmile.analytics.stream import event_of
from firstmile.onboarding.models import EventType, TransitionEvent
from firstmile.platform.items import attribute, storable

AT = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
PK, SK = "TENANT#acme#USER#u-1", "ONBOARDING#EVENT#2026-12-02T10:30:00+00:00#0000000003#00"


def event(**changes: Any) -> TransitionEvent:
    fields: dict[str, Any] = {
        "tenant": "acme",
        "user": "u-1",
        "type": EventType.STEP_SKIPPED,
        "at": AT,
        "flow_id": "welcome",
        "flow_version": 2,
        "step_id": "invite",
        "progress_version": 3,
        "details": {"reason": "no-team"},
        "enrolled_at": AT - timedelta(hours=3),
        "segment": {"country": "DE"},
    }
    return TransitionEvent.model_validate({**fields, **changes})


def record(item: dict[str, Any], name: str = "INSERT") -> dict[str, Any]:
    """A stream record as Lambda receives it: the item's typed attributes in NewImage."""
    return {"eventName": name, "dynamodb": {"NewImage": {k: attribute(storable(v)) for k, v in item.items()}}}


def stored(happened: TransitionEvent, **extra: Any) -> dict[str, Any]:
    """The event item as onboarding writes it: its key, kind, fields (None left out) and expiry."""
    body = {k: v for k, v in happened.model_dump(mode="json").items() if v is not None}
    return {"pk": PK, "sk": SK, "kind": "onboarding_event", **body, "expires_at": 1_900_000_000, **extra}


def test_an_inserted_event_item_reads_as_the_event_it_stores() -> None:
    read = event_of(record(stored(event())))

    assert read is not None
    assert (read.tenant, read.key, read.type, read.at) == ("acme", f"{PK}|{SK}", EventType.STEP_SKIPPED, AT)
    assert (read.enrolled_at, read.flow_id, read.flow_version, read.step_id) == (
        AT - timedelta(hours=3),
        "welcome",
        2,
        "invite",
    )
    assert (read.segment, read.reason, read.sample, read.opted_out) == ({"country": "DE"}, "no-team", False, False)


@pytest.mark.parametrize(
    "passed_over",
    [
        record(stored(event()), name="MODIFY"),
        record(stored(event()), name="REMOVE"),
        record({"pk": PK, "sk": "ONBOARDING#PROGRESS", "kind": "onboarding_progress", "version": 3}),
        record({"pk": "TENANT#acme#FLAGS", "sk": "EPOCH", "kind": "flag_epoch"}),
        {"eventName": "INSERT"},
    ],
    ids=["modify", "remove", "progress", "another-domain", "no-image"],
)
def test_what_is_not_an_inserted_event_is_passed_over(passed_over: dict[str, Any]) -> None:
    assert event_of(passed_over) is None


def test_an_event_item_that_does_not_read_as_an_event_raises() -> None:
    broken = stored(event())
    del broken["flow_version"]
    with pytest.raises(ValidationError):
        event_of(record(broken))


def test_an_event_written_before_events_carried_their_enrolment_counts_on_its_day_without_a_duration() -> None:
    # Given a step completion stored before the enrolment time was copied into events
    old = stored(event(type=EventType.STEP_COMPLETED, details={}))
    del old["enrolled_at"]
    read = event_of(record(old))
    assert read is not None and read.enrolled_at is None

    # When it is counted
    made = updates(read)

    # Then it counts as a completion, without a duration, on the day it happened
    assert made and all(u.amounts == {"completed": 1} for u in made)
    assert {u.key.period for u in made} == {"DAY#2026-12-02", "HOUR#2026-12-02T10"}


def test_an_empty_map_as_the_local_table_engine_streams_it_reads_as_empty() -> None:
    # Given an event without details, as DynamoDB Local's stream gives it: the empty map as {} (AWS: {"M": {}})
    inserted = record(stored(event(details={}, segment={})))
    inserted["dynamodb"]["NewImage"]["details"] = {}
    inserted["dynamodb"]["NewImage"]["segment"] = {}

    # When it is read
    read = event_of(inserted)

    # Then it is the event, with no reason and no segment
    assert read is not None
    assert (read.reason, dict(read.segment), read.step_id) == (None, {}, "invite")


def test_an_event_counts_under_the_version_its_user_enrolled_on() -> None:
    # A user who enrolled on version 1 and was migrated to version 2 counts in version 1's funnel
    migrated = event_of(record(stored(event(enrolled_version=1))))
    assert migrated is not None and migrated.flow_version == 1
    assert {update.key.flow_version for update in updates(migrated)} == {1}
    # An event written before the enrolment version was recorded counts under its own version
    older = event_of(record(stored(event())))
    assert older is not None and older.flow_version == 2
