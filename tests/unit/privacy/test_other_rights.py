"""Restriction, objection and rectification (issue 13, item 6; decision 0084) over the in-memory stores: a
restricted user's data is kept but nothing changes it but their own rights requests; an objecting user is out of
analytics and never bucketed into an experiment; a rectification corrects what is kept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from firstmile import errors as e
from firstmile.errors import DomainError
from firstmile.flags import logic
from firstmile.flags.models import EvaluationContext, EvaluationReason, Serve
from firstmile.onboarding.models import Rectification, RestartRequest, StepAction, StepCommand
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from firstmile.privacy.consent import ConsentChange
from firstmile.privacy.consents import Consents
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import FakeConsentStore
from tests.unit.flags.flagsets import boolean_flag, cond, flag_set, rule, variants_flag
from tests.unit.onboarding.users import ACTOR, TENANT, USER, Clock, welcome_services


@pytest.fixture
def onboarding() -> FakeOnboardingStore:
    return FakeOnboardingStore()


@pytest.fixture
def consents(onboarding: FakeOnboardingStore) -> Consents:
    return Consents(FakeConsentStore(onboarding), clock=Clock())


@pytest.fixture
def users(onboarding: FakeOnboardingStore, consents: Consents) -> ProgressService:
    clock = Clock()
    welcome_services(onboarding, clock)
    return ProgressService(onboarding, PublishedVersions(onboarding), clock=clock, consent=consents._store)  # noqa: SLF001


COLOURS = {"control": ("#000", 1), "blue": ("#00f", 1)}


def rights(**choices: bool) -> ConsentChange:
    return ConsentChange.model_validate({"rights": choices, "policy_version": "2026-12", "source": "settings"})


def refused(call: object) -> None:
    assert callable(call)
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == e.BIZ_PROCESSING_RESTRICTED


def test_a_restriction_keeps_the_data_and_refuses_every_change_but_the_users_own_rights_requests(
    users: ProgressService, consents: Consents, onboarding: FakeOnboardingStore
) -> None:
    # Given an enrolled user who restricts processing
    users.status(TENANT, USER)
    first_step = StepCommand(step_id="profile", action=StepAction.COMPLETE)
    answer = consents.change(TENANT, USER, rights(restrict_processing=True))
    assert answer.restricted and [r.name for r in answer.history] == ["restrict_processing"]

    # Then their status still reads, but no change is taken: not theirs, not an admin's
    assert users.status(TENANT, USER)[0].flow_id == "welcome"
    refused(lambda: users.step(TENANT, USER, first_step, None))
    refused(lambda: users.complete(TENANT, USER, None))
    _, flows = welcome_services(FakeOnboardingStore(), Clock())
    admin = type(flows)(onboarding, PublishedVersions(onboarding), clock=Clock())
    refused(lambda: admin.restart_user(TENANT, USER, RestartRequest(), ACTOR))
    # ...while their own rights requests are: a rectification, and lifting the restriction
    assert users.rectify(TENANT, USER, Rectification(attributes={"country": "FR"})).attributes["country"] == "FR"
    consents.change(TENANT, USER, rights(restrict_processing=False))
    assert users.step(TENANT, USER, first_step, None)[0].steps[0].state.value == "completed"

    # And a user who restricts processing before their first call is not enrolled
    consents.change(TENANT, "u-new", rights(restrict_processing=True))
    refused(lambda: users.status(TENANT, "u-new"))
    assert onboarding.get_progress(TENANT, "u-new") is None


def test_an_objection_takes_the_user_out_of_analytics_before_and_after_enrolling(
    users: ProgressService, consents: Consents, onboarding: FakeOnboardingStore
) -> None:
    users.status(TENANT, USER)

    answer = consents.change(TENANT, USER, rights(object=True))
    consents.change(TENANT, "u-new", rights(object=True))
    users.status(TENANT, "u-new")

    assert answer.objected and answer.analytics_opt_out
    for user in (USER, "u-new"):
        progress = onboarding.get_progress(TENANT, user)
        assert progress is not None and progress.analytics_opt_out
    assert not consents.change(TENANT, USER, rights(object=False)).analytics_opt_out


def test_a_user_who_objects_is_never_bucketed_but_still_targeted() -> None:
    # Given a 50 % rollout, a split fallthrough, and a rule serving every pro user
    flags = flag_set(
        boolean_flag("half", rule("some", percentage=50.0)),
        variants_flag("colour", COLOURS, off="control", fallthrough=Serve(split=True)),
        boolean_flag("pros", rule("pros", cond("plan", "eq", "pro"))),
    )

    def results(user: str, *, unbucketed: bool) -> dict[str, tuple[object, EvaluationReason]]:
        context = EvaluationContext.of_caller(TENANT, user, {"plan": "pro"}, None, unbucketed=unbucketed)
        return {k: (r.variant, r.reason) for k, r in logic.evaluate_all(flags, context).items()}

    # When users who object are evaluated
    objecting = [results(f"user-{n}", unbucketed=True) for n in range(200)]

    # Then each gets the flags' defaults where a bucket would have decided, and the targeting rule as anyone
    assert {r["half"] for r in objecting} == {("off", EvaluationReason.DEFAULT)}
    assert {r["colour"] for r in objecting} == {("control", EvaluationReason.DEFAULT)}
    assert {r["pros"] for r in objecting} == {("on", EvaluationReason.TARGETING_MATCH)}
    # ...where users who do not object are split
    assert len({results(f"user-{n}", unbucketed=False)["half"] for n in range(200)}) == 2


def test_a_rectification_replaces_or_removes_kept_values_and_refuses_anything_else(
    users: ProgressService, onboarding: FakeOnboardingStore
) -> None:
    users.status(TENANT, USER, attributes={"country": "DE", "plan": "pro"})

    answer = users.rectify(TENANT, USER, Rectification(attributes={"country": "AT", "plan": None}))

    assert answer.attributes == {"country": "AT", "returning": "false"}
    stored = onboarding.get_progress(TENANT, USER)
    assert stored is not None and stored.segment == answer.attributes and stored.version == answer.progress_version
    with pytest.raises(ValidationError):
        Rectification.model_validate({"attributes": {"email": "a@b.c"}})
    with pytest.raises(ValidationError):
        Rectification.model_validate({"attributes": {"country": "not a plain value"}})
    with pytest.raises(DomainError) as missing:
        users.rectify(TENANT, "u-nobody", Rectification(attributes={"country": "AT"}))
    assert missing.value.code == e.RES_ONBOARDING_NOT_FOUND
