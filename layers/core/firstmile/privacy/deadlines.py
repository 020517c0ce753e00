"""The daily deadline check of data subject requests (issue 13, item 5; decision 0083): the deployment's open
requests against their 30-day deadline, as metrics the deployment alarms on, and approved requests that waited too
long queued again, so a message lost between the table and the queue never leaves a request stuck.

One Query of the deployment's open-request list (``DSR#OPEN``), never a Scan; one GetItem per approved request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from firstmile.audit.logic import format_time, parse_time
from firstmile.clock import Clock, utc_now
from firstmile.observability import logger, metrics
from firstmile.privacy.ports import RequestStorePort, UserPartitionPort
from firstmile.privacy.requests import RequestState
from firstmile.privacy.rights import Enqueue
from firstmile.privacy.signals import DUE_SOON_METRIC, OPEN_METRIC, OVERDUE_METRIC

REQUEUE_AFTER = timedelta(hours=1)
DUE_SOON = timedelta(days=7)


class PrivacyDeadlines:
    def __init__(
        self,
        store: RequestStorePort,
        *,
        enqueue: Enqueue,
        partition: UserPartitionPort | None = None,
        erase_again: Callable[[str, str], object] | None = None,
        cancel_unverified: Callable[[str, str], bool] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._enqueue = enqueue
        self._partition = partition
        self._erase_again = erase_again
        # Closes an erasure whose code expired unused a day ago (``DataRights.cancel_unverified``).
        self._cancel_unverified = cancel_unverified
        self._clock = clock

    def reapply_erasures(self) -> dict[str, int]:
        """After a restore from backup: every erased user whose items are back is erased again (a new request,
        queued). One Query of the tombstones, one of each erased user's partition (keys and kinds only)."""
        assert self._partition is not None and self._erase_again is not None  # noqa: S101 - wired by composition
        tombstones = self._store.all_tombstones()
        again = returned = 0
        for tenant, user, erased_at in tombstones:
            items = self._partition.items(tenant, user)
            if not items:
                continue
            # Items older than the erasure came back with the restore; only newer ones are a user who came back.
            if any(_earlier(item, erased_at) for item in items):
                self._erase_again(tenant, user)
                again += 1
            else:
                returned += 1
        summary = {"tombstones": len(tombstones), "erased_again": again, "returned": returned}
        logger.info("erasures reapplied", extra=summary)
        return summary

    def check(self) -> dict[str, Any]:
        """Close erasures whose code expired unused a day ago, count open, due-soon and overdue requests (metrics),
        and queue again the approved ones idle over an hour."""
        now = self._clock()
        entries = self._store.open_before(now + timedelta(days=3650))
        canceled = 0
        if self._cancel_unverified is not None:
            unverified = [e for e in entries if e["state"] == RequestState.IDENTITY_UNVERIFIED.value]
            closed = {e["request_id"] for e in unverified if self._cancel_unverified(e["tenant"], e["request_id"])}
            entries = [e for e in entries if e["request_id"] not in closed]
            canceled = len(closed)
        stamp, soon = format_time(now), format_time(now + DUE_SOON)
        overdue = [entry for entry in entries if entry["deadline"] < stamp]
        due_soon = [entry for entry in entries if stamp <= entry["deadline"] < soon]
        requeued = 0
        for entry in entries:
            if entry["state"] != RequestState.APPROVED.value:
                continue
            request = self._store.get(entry["tenant"], entry["request_id"])
            if (
                request is not None
                and request.state is RequestState.APPROVED
                and now - request.updated_at > REQUEUE_AFTER
            ):
                self._enqueue(request.tenant, request.request_id)
                requeued += 1
        metrics.add_metric(name=OPEN_METRIC, unit="Count", value=len(entries))
        metrics.add_metric(name=DUE_SOON_METRIC, unit="Count", value=len(due_soon))
        metrics.add_metric(name=OVERDUE_METRIC, unit="Count", value=len(overdue))
        if overdue:
            logger.warning(
                "privacy requests past their deadline",
                extra={"overdue": [f"{e['tenant']}/{e['request_id']}" for e in overdue[:50]]},
            )
        return {
            "open": len(entries),
            "due_soon": len(due_soon),
            "overdue": len(overdue),
            "requeued": requeued,
            "canceled": canceled,
        }


_TIMES = ("at", "enrolled_at", "updated_at", "created_at")


def _earlier(item: dict[str, Any], moment: str) -> bool:
    """Whether one of the item's times (ISO-8601 text, or epoch seconds) is before ``moment``."""
    cutoff = parse_time(moment)
    for name in _TIMES:
        value = item.get(name)
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str):
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        else:
            continue
        if when < cutoff:
            return True
    return False
