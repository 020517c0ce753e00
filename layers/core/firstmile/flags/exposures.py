"""Exposures: which variants callers were served, sampled at the tenant's rate. The evaluation route samples its
answers into events on the exposure queue (``ExposureSampler``); the queue's consumer counts each event once per
flag, day and variant (``Exposures.record``); admins read the counts (``Exposures.report``)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from firstmile.clock import Clock, utc_now
from firstmile.flags.admin import existing_flag
from firstmile.flags.models import EvaluationResult
from firstmile.flags.ports import FlagStorePort
from firstmile.flags.shapes import ExposureReport
from firstmile.flags.signals import EXPOSURES_DROPPED_METRIC
from firstmile.observability import logger, metrics

MAX_EXPOSURE_DAYS = 90


class MessageQueue(Protocol):
    """Where sampled exposure events go (the exposure queue)."""

    def send(self, messages: Sequence[dict[str, Any]]) -> None: ...


class ExposureSampler:
    """Sends one exposure event for a sampled evaluation (all its flags)."""

    def __init__(self, queue: MessageQueue, *, sample: Callable[[], float] = random.random) -> None:
        self._queue = queue
        self._sample = sample

    def sample(self, tenant: str, results: Iterable[EvaluationResult], rate: float, now: datetime) -> None:
        """Send one sampled exposure event for this evaluation (all its flags), at the tenant's rate. Exposures are
        analytics: a queue that refuses them does not fail the evaluation; the loss is logged and counted."""
        if rate <= 0 or self._sample() >= rate:
            return
        served = [
            {"flag": result.flag_key, "variant": result.variant, "reason": result.reason.value}
            for result in results
            if result.variant is not None
        ]
        if not served:
            return
        message = {
            "id": uuid.uuid4().hex,
            "tenant": tenant,
            "day": now.date().isoformat(),
            "rate": rate,
            "exposures": served,
        }
        try:
            self._queue.send([message])
        except Exception as exc:  # the answer matters more than one sample
            logger.warning("exposure event not sent", extra={"tenant": tenant, "error": type(exc).__name__})
            metrics.add_metric(name=EXPOSURES_DROPPED_METRIC, unit="Count", value=len(served))


class Exposures:
    """The consumer's counting and the admins' report."""

    def __init__(self, store: FlagStorePort, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def record(self, message: Mapping[str, Any], delivery_id: str) -> int:
        """Count one exposure event (the worker), once however often it is delivered: per flag, day and variant, the
        events and the evaluations they stand for (1 / the sample rate each). The event's own ``id`` names it, else
        the queue's ``delivery_id``. Returns how many exposures it counted now (0 for an event counted before)."""
        tenant, day, rate = str(message["tenant"]), date.fromisoformat(str(message["day"])), float(message["rate"])
        if not 0 < rate <= 1:
            raise ValueError(f"an exposure event's rate must be in (0, 1], not {rate}")
        event_id = str(message.get("id") or delivery_id)
        if not event_id.isascii() or not 0 < len(event_id) <= 128 or "#" in event_id:
            raise ValueError("an exposure event's id must be 1-128 ASCII characters without '#'")
        events: Counter[tuple[str, str, str]] = Counter(
            (str(x["flag"]), day.isoformat(), str(x["variant"])) for x in message["exposures"]
        )
        counted = self._store.add_exposures(
            tenant, event_id, {key: (n, n / rate) for key, n in events.items()}, self._clock()
        )
        return sum(events.values()) if counted else 0

    def report(self, tenant: str, key: str, days: int) -> ExposureReport:
        """The flag's sampled exposures per day and variant over the last ``days`` days (UTC)."""
        existing_flag(self._store, tenant, key)
        since = self._clock().date() - timedelta(days=max(1, min(days, MAX_EXPOSURE_DAYS)) - 1)
        return ExposureReport(flag_key=key, counts=self._store.exposure_counts(tenant, key, since))
