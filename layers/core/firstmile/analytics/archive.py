"""The raw archive: onboarding's transition events as gzipped JSON lines in S3, for ad-hoc SQL at any scale
(Athena over the Glue table of ``infra/constructs/archive.py``; decision 0073).

Layout: ``events/tenant=<t>/date=<yyyy-mm-dd of the event>/bucket=<0-f>/<first>-<last>.json.gz``.

- **Batched**: one object per tenant, day and bucket of a stream batch (the mapping hands up to 1,000 events, or
  what a minute brought), never one object per event.
- **Buckets**: a user's events always land in one of 16 buckets (the first hex digit of the SHA-256 of the user id),
  so erasing a user rewrites the objects of their bucket on the days they had events, not a whole tenant.
- **Idempotent**: an object's name is the first and last stream sequence numbers of its events, so a redelivered
  batch writes the same objects again. A batch bisected after a failure may name its halves differently;
  every line carries ``event_id`` (the SHA-256 the aggregator's marker uses), so a query counts distinct events.
- **No more personal data than the events**: the event's own fields, nothing joined in.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import Any, Protocol

from firstmile.analytics.counting import marker_id
from firstmile.analytics.stream import read_event
from firstmile.platform.resources import ARCHIVE_PREFIX

PREFIX = ARCHIVE_PREFIX
BUCKETS = 16


def user_bucket(user: str) -> str:
    """The archive bucket (``0``-``f``) of a user's events."""
    return hashlib.sha256(user.encode()).hexdigest()[0]


def object_key(tenant: str, day: str, bucket: str, first: str, last: str) -> str:
    return f"{PREFIX}/tenant={tenant}/date={day}/bucket={bucket}/{first}-{last}.json.gz"


def archive_objects(
    records: Sequence[Mapping[str, Any]], *, erased: Set[tuple[str, str]] = frozenset()
) -> dict[str, bytes]:
    """The objects a stream batch's onboarding events go to, by key: gzipped JSON lines, one event a line, in the
    shard's order. Records that are not inserted onboarding events are passed over, and so are the events of the
    ``erased`` (tenant, user) pairs: an event that arrives after its user's erasure is never archived."""
    groups: dict[tuple[str, str, str], list[tuple[str, dict[str, Any]]]] = {}
    for record in records:
        read = read_event(record)
        if read is None:
            continue
        happened, event = read
        if (happened.tenant, happened.user) in erased:
            continue
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
        line = {"event_id": marker_id(event), **happened.model_dump(mode="json")}
        line["at"] = happened.at.isoformat().replace("+00:00", "Z")
        day = happened.at.date().isoformat()
        groups.setdefault((happened.tenant, day, user_bucket(happened.user)), []).append((sequence, line))
    objects = {}
    for (tenant, day, bucket), lines in groups.items():
        key = object_key(tenant, day, bucket, lines[0][0], lines[-1][0])
        objects[key] = encode_lines([line for _, line in lines])
    return objects


def encode_lines(lines: Sequence[Mapping[str, Any]]) -> bytes:
    """An archive object's body: one JSON line per event, gzipped without a timestamp (the same lines give the same
    bytes, so a redelivered batch writes the same object)."""
    body = "".join(json.dumps(line, separators=(",", ":"), sort_keys=True) + "\n" for line in lines)
    return gzip.compress(body.encode(), mtime=0)


def decode_lines(body: bytes | None) -> list[dict[str, Any]]:
    """The events of an archive object's body (none for a missing object)."""
    if not body:
        return []
    return [json.loads(line) for line in gzip.decompress(body).splitlines() if line.strip()]


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes) -> None: ...


Erased = Callable[[Iterable[tuple[str, str]]], set[tuple[str, str]]]
"""Which of some (tenant, user) pairs were erased (their tombstones, decision 0083)."""


class EventArchive:
    """Writes a stream batch's events to the archive, but those of users erased before the batch came."""

    def __init__(self, objects: ObjectStore, *, erased: Erased | None = None) -> None:
        self._objects = objects
        self._erased = erased

    def write(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Write the batch's objects; how many. A failure raises: the stream hands the batch again."""
        erased: set[tuple[str, str]] = set()
        if self._erased is not None:
            users = {(read[0].tenant, read[0].user) for read in map(read_event, records) if read is not None}
            erased = self._erased(users)
        made = archive_objects(records, erased=erased)
        for key, body in made.items():
            self._objects.put(key, body)
        return len(made)
