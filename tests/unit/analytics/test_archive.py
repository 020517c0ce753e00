"""The archive's objects of a stream batch: one per tenant, day and user bucket, named by the batch, holding each
onboarding event once as a JSON line, and nothing else."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

from firstmile.analytics.archive import archive_objects, user_bucket
from firstmile.analytics.counting import AnalyticsEvent, marker_id
from firstmile.onboarding.models import EventType
from tests.unit.analytics.streams import stream_record

AT = datetime(2026, 12, 2, 23, 50, tzinfo=UTC)


def event(user: str, n: int, at: datetime, tenant: str = "acme") -> AnalyticsEvent:
    key = f"TENANT#{tenant}#USER#{user}|ONBOARDING#EVENT#{n:03d}"
    return AnalyticsEvent(tenant, key, EventType.STEP_STARTED, at, AT, "welcome", 1, "profile", {"plan": "pro"})


def lines(body: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in gzip.decompress(body).splitlines()]


def test_a_batch_becomes_one_object_per_tenant_day_and_user_bucket() -> None:
    # Given events of two users of one tenant across midnight, one of another tenant, and a progress change
    events = [
        event("u-1", 1, AT),
        event("u-1", 2, AT + timedelta(minutes=20)),
        event("u-2", 3, AT),
        event("u-1", 4, AT, tenant="other"),
    ]
    records = [stream_record(e, n) for n, e in enumerate(events)]
    records.insert(1, {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "9", "NewImage": {"kind": {"S": "x"}}}})

    # When the archive's objects are made
    objects = archive_objects(records)

    # Then each tenant, day and bucket has its object, named by its events' sequence numbers
    b1, b2 = user_bucket("u-1"), user_bucket("u-2")
    assert b1 != b2  # the two users' events fall in different buckets
    expected = {
        f"events/tenant=acme/date=2026-12-02/bucket={b1}/{0:021d}-{0:021d}.json.gz",
        f"events/tenant=acme/date=2026-12-03/bucket={b1}/{1:021d}-{1:021d}.json.gz",
        f"events/tenant=acme/date=2026-12-02/bucket={b2}/{2:021d}-{2:021d}.json.gz",
        f"events/tenant=other/date=2026-12-02/bucket={b1}/{3:021d}-{3:021d}.json.gz",
    }
    assert set(objects) == expected
    # ...each line an event's fields and its id, the marker's digest
    first = lines(objects[f"events/tenant=acme/date=2026-12-03/bucket={b1}/{1:021d}-{1:021d}.json.gz"])
    assert [(line["user"], line["type"], line["event_id"]) for line in first] == [
        ("u-1", "step_started", marker_id(events[1]))
    ]
    assert first[0]["at"] == "2026-12-03T00:10:00Z"
    # And the same batch makes the same objects again, byte for byte
    assert archive_objects(records) == objects
