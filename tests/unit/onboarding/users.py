"""One user of a two-step flow over the onboarding store's fake, with a clock the test moves: what the tests of
onboarding's events share (``conftest.py`` makes them fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime

from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.models import DefaultFlowUpdate, FlowCreate
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
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
