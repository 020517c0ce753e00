"""Rate-limit counters in the main table: one item per subject, route class and window, removed by TTL.

Key formats (see docs/data-model.md):
- a user's counter: ``pk = TENANT#<t>#USER#<u>``, ``sk = RATE#<route class>#<window start>``;
- an API client's counter: ``pk = CLIENT#<client id>``, ``sk = RATE#<route class>#<window start>``;
- a source address's counter: ``pk = SOURCE#<ip address>``, ``sk = RATE#<route class>#<window start>``.
Each carries ``count`` and ``expires_at`` (the window's end plus a minute). A user's counters live in the user's
partition, so they leave with the user's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firstmile.limits.models import LimitSubject, RouteClass
from firstmile.platform.gateway import TableGateway

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Counters outlive their window a little, so a request at the very end still finds its item.
_EXPIRY_MARGIN_SECONDS = 60


def _partition(subject: LimitSubject) -> str:
    if subject.kind == "user":
        return f"TENANT#{subject.tenant}#USER#{subject.id}"
    if subject.kind == "source":
        return f"SOURCE#{subject.id}"
    return f"CLIENT#{subject.id}"


class RateLimitStore:
    """Atomic fixed-window counters (``UpdateItem`` with ``ADD``)."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def hit(self, subject: LimitSubject, route_class: RouteClass, window_start: int, window_seconds: int) -> int:
        """Add one to the window's counter and return the new count (one atomic write, no read)."""
        attributes = self._table.update_if(
            {"pk": _partition(subject), "sk": f"RATE#{route_class.value}#{window_start}"},
            "ADD #count :one SET expires_at = if_not_exists(expires_at, :expires), kind = :kind",
            names={"#count": "count"},
            values={
                ":one": 1,
                ":expires": window_start + window_seconds + _EXPIRY_MARGIN_SECONDS,
                ":kind": "rate_counter",
            },
            returns="UPDATED_NEW",
        )
        return int((attributes or {})["count"])

    def count(self, subject: LimitSubject, route_class: RouteClass, window_start: int) -> int:
        """The window's count so far, without adding to it (one consistent read)."""
        item = self._table.get(
            {"pk": _partition(subject), "sk": f"RATE#{route_class.value}#{window_start}"},
            projection="#count",
            names={"#count": "count"},
        )
        return int((item or {}).get("count", 0))
