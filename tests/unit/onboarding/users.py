"""One user of a two-step flow over the onboarding store's fake, with a clock the test moves: what the tests of
onboarding's events share (``conftest.py`` makes them fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime

from firstmile.analytics.counting import AnalyticsEvent, updates
from firstmile.analytics.stream import event_of
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.models import DefaultFlowUpdate, FlowCreate, TransitionEvent
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from firstmile.platform.items import attribute, storable
from tests.fakes.onboarding import FakeOnboardingStore

TENANT, USER, ACTOR = "t-acme", "u-1", "admin:u-admin"
ENROLLED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FLOW = {
    "flow_id": "welcome",
    "name": "Welcome",
    "steps": [
        {"id": "profile", "title": "Profile", "order": 0},
        {"id": "invite", "title": "Invite", "order": 1, "required": False},
    ],
}


class Clock:
    def __init__(self) -> None:
        self.now = ENROLLED_AT

    def __call__(self) -> datetime:
        return self.now


def welcome_services(store: FakeOnboardingStore, clock: Clock) -> tuple[ProgressService, FlowAdmin]:
    """The user's and the admin's services, with the flow published and made the default."""
    versions = PublishedVersions(store)
    flows = FlowAdmin(store, versions, clock=clock)
    flows.create_flow(TENANT, FlowCreate.model_validate(FLOW), ACTOR)
    flows.publish(TENANT, "welcome", None, ACTOR)
    flows.set_default(TENANT, DefaultFlowUpdate(flow_id="welcome"), ACTOR)
    return ProgressService(store, versions, clock=clock), flows


def as_analytics(happened: TransitionEvent) -> AnalyticsEvent:
    """An event onboarding wrote, read as the aggregator reads it from the stream."""
    item = {"pk": "p", "sk": f"s{happened.progress_version}", "kind": "onboarding_event"}
    image = {k: attribute(storable(v)) for k, v in (item | happened.model_dump(mode="json")).items() if v is not None}
    read = event_of({"eventName": "INSERT", "dynamodb": {"NewImage": image}})
    assert read is not None
    return read


def counted(happened: TransitionEvent) -> tuple[str, dict[str, float]]:
    """What analytics adds for an event onboarding wrote: the target (a step or FLOW) and the amounts of its
    unsegmented day counter."""
    read = as_analytics(happened)
    day = next(u for u in updates(read) if u.key.segment == "all" and u.key.period.startswith("DAY#"))
    return day.key.target, dict(day.amounts)
