"""Users of known enrolment days walking a three-step flow, their events counted into the in-memory counters as the
aggregator counts them: what the report and alert tests read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

from firstmile import errors
from firstmile.analytics.counting import AnalyticsEvent, marker_id, updates
from firstmile.onboarding.models import EventType, FlowDefinition, FlowVersion
from tests.fakes.analytics import FakeFunnelCounterStore

TENANT, FLOW_ID = "acme", "welcome"
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # a Thursday
FLOW = FlowVersion(
    flow_id=FLOW_ID,
    version=1,
    definition=FlowDefinition.model_validate(
        {
            "name": "Welcome",
            "steps": [
                {"id": "profile", "title": "Profile", "order": 1},
                {"id": "tour", "title": "Tour", "order": 2, "required": False},
                {"id": "connect", "title": "Connect", "order": 3},
            ],
        }
    ),
    published_at=NOW - timedelta(days=60),
    published_by="admin:a",
)


class Versions:
    def get(self, tenant: str, flow_id: str, version: int) -> FlowVersion:
        if (tenant, flow_id, version) != (TENANT, FLOW_ID, 1):
            raise errors.DomainError(errors.RES_FLOW_NOT_FOUND, "no such flow")
        return FLOW

    def latest(self, tenant: str, flow_id: str) -> FlowVersion:
        return self.get(tenant, flow_id, 1)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Walker:
    """Users walking the flow, their events counted into ``store`` as the aggregator counts them."""

    def __init__(self, store: FakeFunnelCounterStore) -> None:
        self.store = store
        self.keys: Iterator[int] = count()

    def user(
        self,
        enrolled_at: datetime,
        steps: list[tuple[str, EventType, str | None]],
        *,
        finish: bool = False,
        returning: bool = False,
    ) -> None:
        segment = {"returning": "true" if returning else "false", "plan": "pro"}

        def event(kind: EventType, at: datetime, step: str | None = None, **extra: str | None) -> None:
            happened = AnalyticsEvent(
                TENANT, f"k{next(self.keys)}", kind, at, enrolled_at, FLOW_ID, 1, step, segment, **extra
            )
            self.store.count(TENANT, marker_id(happened), updates(happened), NOW)

        event(EventType.ENROLLED, enrolled_at)
        at = enrolled_at
        for step, kind, code in steps:
            at += timedelta(minutes=10)
            extra = {"reason": code} if kind is EventType.STEP_SKIPPED else {"error_code": code}
            event(kind, at, step, **(extra if code else {}))
        if finish:
            event(EventType.ONBOARDING_COMPLETED, at + timedelta(minutes=1))


DONE = [("profile", EventType.STEP_COMPLETED, None), ("connect", EventType.STEP_COMPLETED, None)]


def day(n: int, hour: int = 9) -> datetime:
    """``n`` days before NOW's day, at ``hour``."""
    return datetime.combine(NOW.date() - timedelta(days=n), datetime.min.time(), UTC).replace(hour=hour)
