"""Everything Firstmile keeps about one user, found by keys (never a Scan), for an export and an erasure (decision
0083): the user's partition, their refresh-token pointers, the audit entries naming them, the flags naming them,
their events in the analytics archive and their export packages.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from firstmile.identifiers import user_partition
from firstmile.platform.gateway import TableGateway, partition
from firstmile.platform.items import plain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Attributes of the table's envelope, left out of an export.
_ENVELOPE = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "expires_at"})
EXPORTS_PREFIX = "exports"


class Objects(Protocol):
    """A bucket's objects (``firstmile.platform.objects.BucketObjects``)."""

    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def keys(self, prefix: str) -> Iterator[str]: ...

    def folders(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def link(self, key: str, seconds: int) -> str: ...


def user_digest(tenant: str, user: str) -> str:
    """Names a user in object keys (S3 access logs list keys) without their id."""
    return hashlib.sha256(f"{tenant}\n{user}".encode()).hexdigest()[:32]


def export_prefix(tenant: str, user: str) -> str:
    return f"{EXPORTS_PREFIX}/{tenant}/{user_digest(tenant, user)}/"


class UserPartition:
    """The items under one user's partition (``TENANT#<t>#USER#<u>``): progress, events, consent, sessions, rate
    counters. (Their revocations are kept beside it, and expire by themselves.)"""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def items(self, tenant: str, user: str) -> list[dict[str, Any]]:
        """Every item of the user, as plain values without the table's envelope, each with its ``kind``."""
        found = self._table.query_all(partition(user_partition(tenant, user)), consistent=True)
        return [{k: plain(v) for k, v in item.items() if k not in _ENVELOPE} for item in found]

    def kinds(self, tenant: str, user: str) -> dict[str, int]:
        """How many items of each kind the user has."""
        found = self._table.query_all(
            partition(user_partition(tenant, user)),
            consistent=True,
            projection="#sk, #kind",
            names={"#sk": "sk", "#kind": "kind"},
        )
        return dict(Counter(str(i.get("kind", "unknown")) for i in found))

    def delete(self, tenant: str, user: str) -> int:
        """Delete every item of the user; how many. Running it again deletes nothing."""
        found = self._table.query_all(
            partition(user_partition(tenant, user)),
            consistent=True,
            projection="#pk, #sk",
            names={"#pk": "pk", "#sk": "sk"},
        )
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in found]
        self._table.delete_many(keys)
        return len(keys)


class ArchivedEvents:
    """One user's lines in the analytics archive (decision 0073): every day the tenant has objects for (the archive
    keeps them longer than the table may keep the user's events), and on each only the objects of the user's hash
    bucket."""

    def __init__(self, objects: Objects) -> None:
        self._objects = objects

    def _keys(self, tenant: str, user: str) -> Iterator[str]:
        from firstmile.analytics.archive import PREFIX, user_bucket

        bucket = user_bucket(user)
        for day in self._objects.folders(f"{PREFIX}/tenant={tenant}/"):
            yield from self._objects.keys(f"{day}bucket={bucket}/")

    def read(self, tenant: str, user: str) -> list[dict[str, Any]]:
        """The user's archived events, each once (by ``event_id``)."""
        from firstmile.analytics.archive import decode_lines

        found: dict[str, dict[str, Any]] = {}
        for key in self._keys(tenant, user):
            for line in decode_lines(self._objects.get(key)):
                if line.get("user") == user:
                    found.setdefault(str(line.get("event_id")), line)
        return list(found.values())

    def erase(self, tenant: str, user: str) -> int:
        """Rewrite each object holding the user's lines without them (delete it when nothing else is left); how many
        lines went. Running it again removes nothing more."""
        # The archive's own codec, loaded only by the worker that needs it (the deadline job shares this module).
        from firstmile.analytics.archive import decode_lines, encode_lines

        removed = 0
        for key in list(self._keys(tenant, user)):
            lines = decode_lines(self._objects.get(key))
            kept = [line for line in lines if line.get("user") != user]
            if len(kept) == len(lines):
                continue
            removed += len(lines) - len(kept)
            if kept:
                self._objects.put(key, encode_lines(kept))
            else:
                self._objects.delete(key)
        return removed
