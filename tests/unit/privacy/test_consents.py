"""A user's consent over the in-memory stores: choices and their history, and what withdrawing analytics does to
the user's onboarding events, whether they withdraw after enrolling or before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from firstmile.analytics.counting import is_counted
from firstmile.onboarding.models import EventType, StepAction, StepCommand
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from firstmile.privacy.consent import ConsentChange, honouring_gpc
from firstmile.privacy.consents import Consents
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import FakeConsentStore
from tests.unit.onboarding.users import ENROLLED_AT, TENANT, USER, Clock, as_analytics, welcome_services


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def onboarding() -> FakeOnboardingStore:
    return FakeOnboardingStore()


@pytest.fixture
def store(onboarding: FakeOnboardingStore) -> FakeConsentStore:
    return FakeConsentStore(onboarding)


@pytest.fixture
def consents(store: FakeConsentStore, clock: Clock) -> Consents:
    return Consents(store, clock=clock)


@pytest.fixture
def users(onboarding: FakeOnboardingStore, store: FakeConsentStore, clock: Clock) -> ProgressService:
    welcome_services(onboarding, clock)
    return ProgressService(onboarding, PublishedVersions(onboarding), clock=clock, consent=store)


def choices(**purposes: bool) -> ConsentChange:
    return ConsentChange.model_validate({"purposes": purposes, "policy_version": "2026-11", "source": "settings"})


def counted_types(onboarding: FakeOnboardingStore) -> list[EventType]:
    return [e.type for e in onboarding.list_events(TENANT, USER) if is_counted(as_analytics(e))]


def test_choices_are_recorded_with_their_policy_version_and_listed_newest_first(
    consents: Consents, clock: Clock
) -> None:
    consents.change(TENANT, USER, choices(analytics=True, marketing=True))
    clock.now = ENROLLED_AT + timedelta(hours=1)
    answer = consents.change(
        TENANT,
        USER,
        ConsentChange.model_validate(
            {
                "purposes": {"marketing": False},
                "cookies": {"analytics": False},
                "policy_version": "2026-12",
                "source": "banner",
            }
        ),
    )

    assert (answer.version, answer.analytics_opt_out) == (2, False)
    assert answer.purposes["marketing"].granted is False
    assert answer.purposes["marketing"].policy_version == "2026-12"
    assert answer.purposes["analytics"].policy_version == "2026-11"
    assert answer.cookies["analytics"].source == "banner"
    assert [(r.scope, r.name, r.granted) for r in answer.history[:2]] == [
        ("purpose", "marketing", False),
        ("cookie", "analytics", False),
    ]
    assert len(answer.history) == 4


def test_a_change_must_say_something_and_cannot_refuse_necessary_cookies() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        ConsentChange.model_validate({"policy_version": "1"})
    with pytest.raises(ValidationError, match="necessary cookies"):
        ConsentChange.model_validate({"cookies": {"necessary": False}, "policy_version": "1"})
    with pytest.raises(ValidationError):
        ConsentChange.model_validate({"purposes": {"telemetry": True}, "policy_version": "1"})


def test_withdrawing_analytics_after_enrolling_stops_the_counting_of_every_later_event(
    consents: Consents, users: ProgressService, onboarding: FakeOnboardingStore
) -> None:
    # Given an enrolled user
    users.status(TENANT, USER)

    # When they withdraw analytics, then complete a step
    answer = consents.change(TENANT, USER, choices(analytics=False))
    users.step(TENANT, USER, StepCommand(step_id="profile", action=StepAction.COMPLETE), None)

    # Then their enrolment counted, the step does not: every event after the withdrawal carries the marker
    assert answer.analytics_opt_out is True
    assert counted_types(onboarding) == [EventType.ENROLLED]
    progress = onboarding.get_progress(TENANT, USER)
    assert progress is not None and progress.analytics_opt_out is True

    # And granting it again counts what follows
    consents.change(TENANT, USER, choices(analytics=True))
    users.step(TENANT, USER, StepCommand(step_id="invite", action=StepAction.COMPLETE), None)
    assert counted_types(onboarding)[-1] == EventType.STEP_COMPLETED


def test_a_user_who_withdrew_before_enrolling_is_never_counted(
    consents: Consents, users: ProgressService, onboarding: FakeOnboardingStore
) -> None:
    consents.change(TENANT, USER, choices(analytics=False))

    users.status(TENANT, USER)
    users.step(TENANT, USER, StepCommand(step_id="profile", action=StepAction.COMPLETE), None)

    assert counted_types(onboarding) == []
    assert len(onboarding.list_events(TENANT, USER)) == 2


def test_an_enrolment_that_read_the_consent_before_a_withdrawal_is_tried_again(
    consents: Consents, users: ProgressService, onboarding: FakeOnboardingStore, store: FakeConsentStore
) -> None:
    # Given the consent read for an enrolment changes before the enrolment is written (once)
    real = store.enrolment
    raced = []

    def enrolment(tenant: str, user: str):  # type: ignore[no-untyped-def]
        answer = real(tenant, user)
        if not raced:
            raced.append(True)
            consents.change(TENANT, USER, choices(analytics=False))
        return answer

    store.enrolment = enrolment  # type: ignore[method-assign]

    # When the user's first status call enrols them
    users.status(TENANT, USER)

    # Then the enrolment was made again on the new consent: the user is out of analytics from the start
    progress = onboarding.get_progress(TENANT, USER)
    assert progress is not None and progress.analytics_opt_out is True
    assert counted_types(onboarding) == []


def test_global_privacy_control_withdraws_analytics_and_marketing_whatever_the_body_says(
    consents: Consents, users: ProgressService, onboarding: FakeOnboardingStore
) -> None:
    users.status(TENANT, USER)
    change = ConsentChange.model_validate(
        {
            "purposes": {"analytics": True, "product_updates": True},
            "cookies": {"functional": True, "marketing": True},
            "policy_version": "2026-11",
            "source": "banner",
        }
    )

    answer = consents.change(TENANT, USER, honouring_gpc(change))

    granted = {p.value: c.granted for p, c in answer.purposes.items()}
    assert granted == {"analytics": False, "product_updates": True, "marketing": False}
    assert {c.value: v.granted for c, v in answer.cookies.items()} == {
        "functional": True,
        "marketing": False,
        "analytics": False,
    }
    assert {r.source for r in answer.history} == {"gpc"}
    progress = onboarding.get_progress(TENANT, USER)
    assert progress is not None and progress.analytics_opt_out is True
