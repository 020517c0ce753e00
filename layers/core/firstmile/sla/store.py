"""Where the request tallies are kept (``TallyStore``): one item per route and minute, hour and day.

Key formats (docs/data-model.md), each partition split in ``SHARDS`` by a digest of the route, so a busy deployment's
additions spread over several partitions:
- minute: ``pk = SLA#M#<yyyy-mm-ddThh>#<shard>``, ``sk = <mm>#<route>``, kept 3 days;
- hour: ``pk = SLA#H#<yyyy-mm-dd>#<shard>``, ``sk = <hh>#<route>``, kept 35 days;
- day: ``pk = SLA#D#<yyyy-mm>#<shard>``, ``sk = <dd>#<route>``, kept 400 days.
A window is read one partition (an hour of minutes, a day of hours, a month of days) and shard at a time, the first
and last partition only between the sort keys of the window's periods.

Counts are top-level number attributes added with ``ADD`` (``n``, ``c:<class>``, ``e:<code>``, ``b:<bucket>``,
``slow:<ms>``, ``m:<mark>``, ``ms``), so concurrent aggregators never overwrite each other; one delivery's additions go
in transactions carrying a token derived from the delivery, so a retried delivery within ten minutes adds nothing
more. A delivery's claim (``pk = SLA#CLAIM#<digest of its token>``, ``sk = -``, kept two days) lets the aggregator do
once what follows a delivery's first success: writing the request records of API Gateway's own answers (decision
0105).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from firstmile.errors import DependencyUnavailableError
from firstmile.platform.gateway import TableGateway, partition
from firstmile.sla.histogram import Histogram
from firstmile.sla.tallies import LEVELS, RETENTION, STEP, Level, Tally, TallyKey, TallyRow, period_start

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

TALLY_KIND = "sla_tally"
DELIVERY_KIND = "sla_delivery"
CLAIM_DAYS = 2
"""How long a delivery's claim is kept: CloudWatch Logs and Lambda retry a delivery for at most six hours."""
_PREFIX = {"minute": "SLA#M#", "hour": "SLA#H#", "day": "SLA#D#"}
# DynamoDB takes at most 100 actions in a transaction.
_ACTIONS_PER_TRANSACTION = 99
SHARDS = 4


def shard_of(route: str) -> int:
    return int.from_bytes(hashlib.sha256(route.encode()).digest()[:2], "big") % SHARDS


def _partition_of(level: Level, at: datetime) -> str:
    if level == "minute":
        return _PREFIX[level] + at.strftime("%Y-%m-%dT%H")
    if level == "hour":
        return _PREFIX[level] + at.strftime("%Y-%m-%d")
    return _PREFIX[level] + at.strftime("%Y-%m")


def _sort_prefix(level: Level, at: datetime) -> str:
    return at.strftime({"minute": "%M", "hour": "%H", "day": "%d"}[level])


def _partitions(level: Level, start: datetime, end: datetime) -> Iterator[str]:
    """Every partition holding periods that start in ``[start, end)``, in time order: the hours of a minute window,
    the days of an hour window, the months of a day window."""
    unit: Level = "hour" if level == "minute" else "day"
    at = period_start(start, unit)
    last = ""
    while at < end:
        key = _partition_of(level, at)
        if key != last:
            yield key
            last = key
        at += STEP[unit]


def counts_of(tally: Tally) -> dict[str, Decimal]:
    """A tally as the attributes it adds."""
    counts: dict[str, Decimal] = {"n": Decimal(tally.requests), "ms": Decimal(str(round(tally.histogram.sum_ms, 3)))}
    counts |= {f"c:{klass}": Decimal(n) for klass, n in tally.by_class.items()}
    counts |= {f"e:{code}": Decimal(n) for code, n in tally.by_code.items()}
    counts |= {f"b:{index}": Decimal(n) for index, n in tally.histogram.counts.items()}
    counts |= {f"slow:{ms}": Decimal(n) for ms, n in tally.slower_than.items()}
    counts |= {f"m:{mark}": Decimal(n) for mark, n in tally.marked.items()}
    return counts


def tally_of(item: Mapping[str, Any]) -> Tally:
    """A stored item's counts as a ``Tally``."""

    def numbers(prefix: str) -> dict[str, int]:
        return {k.removeprefix(prefix): int(v) for k, v in item.items() if k.startswith(prefix)}

    return Tally(
        requests=int(item.get("n", 0)),
        by_class=numbers("c:"),
        by_code=numbers("e:"),
        histogram=Histogram.from_counts(numbers("b:"), float(item.get("ms", 0))),
        slower_than={int(k): v for k, v in numbers("slow:").items()},
        marked=numbers("m:"),
    )


def by_level(tallies: Mapping[TallyKey, Tally]) -> dict[tuple[Level, datetime, str, str], Tally]:
    """Per-minute tallies added up per level, period and route: what one delivery adds to each item."""
    summed: dict[tuple[Level, datetime, str, str], Tally] = {}
    for key, tally in tallies.items():
        for level in LEVELS:
            slot = (level, period_start(key.minute, level), key.route, key.audience)
            summed[slot] = summed[slot].merge(tally) if slot in summed else tally
    return summed


class TallyStore:
    """``RequestTallies`` on the table."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def add(self, tallies: Mapping[TallyKey, Tally], token: str) -> None:
        slots = sorted(by_level(tallies).items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))
        actions = [self._action(level, at, route, audience, tally) for (level, at, route, audience), tally in slots]
        for index in range(0, len(actions), _ACTIONS_PER_TRANSACTION):
            chunk = actions[index : index + _ACTIONS_PER_TRANSACTION]
            # ClientRequestToken: at most 36 characters, the same for the same delivery's same chunk; the table's
            # name is part of it, as the same records delivered to another table are another transaction.
            digest = hashlib.sha256(f"{self._table.name}#{token}#{index}".encode()).hexdigest()[:32]
            refused = self._table.transact(chunk, token=digest)
            if refused is not None:
                # Concurrent deliveries kept winning: fail, so the delivery is retried (its token keeps the chunks
                # already added from being added twice).
                raise DependencyUnavailableError("table", "TransactionConflict")

    def claim(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        expires = int(time.time()) + CLAIM_DAYS * 86400
        return self._table.put_new(
            {"pk": f"SLA#CLAIM#{digest}", "sk": "-", "kind": DELIVERY_KIND, "expires_at": expires}
        )

    def _action(self, level: Level, at: datetime, route: str, audience: str, tally: Tally) -> dict[str, Any]:
        counts = counts_of(tally)
        names = {f"#a{i}": name for i, name in enumerate(counts)}
        values: dict[str, Any] = {f":a{i}": value for i, value in enumerate(counts.values())}
        adds = ", ".join(f"#a{i} :a{i}" for i in range(len(counts)))
        names |= {"#kind": "kind", "#route": "route", "#audience": "audience", "#at": "at", "#level": "level"}
        values |= {
            ":kind": TALLY_KIND,
            ":route": route,
            ":audience": audience,
            ":at": at.isoformat(),
            ":level": level,
            ":expires": int((at + RETENTION[level]).timestamp()),
        }
        update = (
            "SET #kind = :kind, #route = :route, #audience = :audience, #at = :at, #level = :level, "
            f"expires_at = if_not_exists(expires_at, :expires) ADD {adds}"
        )
        key = {"pk": f"{_partition_of(level, at)}#{shard_of(route)}", "sk": f"{_sort_prefix(level, at)}#{route}"}
        return self._table.update_action(key, update, names=names, values=values)

    def read(self, level: Level, start: datetime, end: datetime) -> list[TallyRow]:
        now = int(time.time())
        first, last = period_start(start, level), period_start(end, level)
        rows: list[TallyRow] = []
        for key in _partitions(level, start, end):
            # Only the window's periods of its first and last partition: "<first period>#" to "<last period>#~".
            low = _sort_prefix(level, first) if key == _partition_of(level, first) else "00"
            high = _sort_prefix(level, last) if key == _partition_of(level, last) else "99"
            for shard in range(SHARDS):
                condition = partition(f"{key}#{shard}").between(f"{low}#", f"{high}#~")
                for item in self._table.query_all(condition):
                    at = datetime.fromisoformat(str(item["at"]))
                    if start <= at < end and int(item.get("expires_at", now + 1)) > now:
                        rows.append(TallyRow(str(item["route"]), str(item["audience"]), at, tally_of(item)))
        return sorted(rows, key=lambda r: (r.start, r.route))
