"""Whether a user objects to analytics and experiments (decision 0084), as flag evaluation asks it on every request:
one eventually consistent GetItem of the user's rights, cached per container.

Light on purpose: the evaluation path loads this module and the table gateway, not the consent models or stores.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from firstmile.identifiers import user_partition
from firstmile.platform.gateway import TableGateway

CONSENT_STATE_SK = "CONSENT#STATE"
"""The sort key of a user's current consent (``firstmile.privacy.consent_store``)."""
# How long a container trusts what it read: an objection reaches every evaluation within this many seconds.
OBJECTION_CACHE_SECONDS = 30.0
_MAX_USERS = 10_000


def exercised(item: dict[str, Any] | None, right: str) -> bool:
    """Whether a stored consent state (as the table holds it, without the consent models) says the user exercises
    ``right`` (``object``, ``restrict_processing``)."""
    rights = (item or {}).get("rights") or {}
    return (rights.get(right) or {}).get("granted") is True


class Objections:
    """``(tenant, user) -> objects``, read at most every ``OBJECTION_CACHE_SECONDS`` per user and container."""

    def __init__(self, table: TableGateway, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._table = table
        self._monotonic = monotonic
        self._entries: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()

    def objects(self, tenant: str, user: str) -> bool:
        key, now = (tenant, user), self._monotonic()
        cached = self._entries.get(key)
        if cached is not None and now - cached[1] < OBJECTION_CACHE_SECONDS:
            return cached[0]
        item = self._table.get(
            {"pk": user_partition(tenant, user), "sk": CONSENT_STATE_SK},
            consistent=False,
            projection="#r",
            names={"#r": "rights"},
        )
        objects = exercised(item, "object")
        self._entries[key] = (objects, now)
        self._entries.move_to_end(key)
        while len(self._entries) > _MAX_USERS:
            self._entries.popitem(last=False)
        return objects
