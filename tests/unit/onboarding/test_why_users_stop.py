"""Why users stop (issue 12, item 2): a skip may say why with a reason code, and a step may record a failed attempt
with an error code without moving its state. Both land in the transition events analytics counts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from firstmile import errors
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.models import EventType, SkipRequest, StepAction, StepCommand, StepState
from firstmile.onboarding.progress import ProgressService
from tests.fakes.onboarding import FakeOnboardingStore
from tests.unit.onboarding.users import TENANT, USER, counted


def command(**fields: Any) -> StepCommand:
    return StepCommand.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"step_id": "invite", "action": "start", "reason": "busy"},  # a reason goes with a skip only
        {"step_id": "invite", "action": "error"},  # an error needs its code
        {"step_id": "invite", "action": "skip", "error_code": "x"},  # a code goes with an error only
        {"step_id": "invite", "action": "skip", "reason": "Too busy right now"},  # a code, not free text
        {"step_id": "invite", "action": "error", "error_code": "x" * 41},
    ],
)
def test_a_reason_or_error_code_that_does_not_fit_its_action_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        command(**fields)
    with pytest.raises(ValidationError):
        SkipRequest.model_validate({"reason": "no thanks"})


def test_a_skip_with_a_reason_records_it_and_analytics_counts_it(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore
) -> None:
    users, _ = services
    users.step(TENANT, USER, command(step_id="invite", action="skip", reason="no_team_yet"), None)

    event = store.list_events(TENANT, USER)[-1]
    assert (event.type, event.details) == (EventType.STEP_SKIPPED, {"reason": "no_team_yet"})
    assert counted(event) == ("invite", {"skipped": 1, "r#no_team_yet": 1})


def test_skipping_the_onboarding_with_a_reason_records_it(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore
) -> None:
    users, _ = services
    users.skip(TENANT, USER, None, reason="not_now")

    event = store.list_events(TENANT, USER)[-1]
    assert (event.type, event.details) == (EventType.ONBOARDING_SKIPPED, {"reason": "not_now"})
    assert counted(event) == ("FLOW", {"skipped": 1, "r#not_now": 1})


def test_an_error_records_a_failed_attempt_and_moves_no_state(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore
) -> None:
    # Given a user who started a step
    users, _ = services
    users.step(TENANT, USER, command(step_id="profile", action="start"), None)
    before, version = users.status(TENANT, USER)

    # When the product reports a failed attempt at it, twice
    for _ in range(2):
        after, new_version = users.step(
            TENANT, USER, command(step_id="profile", action="error", error_code="upload_failed"), None
        )

    # Then the step is still started (each report is one more event, and one more progress version)
    assert [s.state for s in after.steps] == [s.state for s in before.steps]
    assert after.steps[0].state == StepState.STARTED
    assert new_version == version + 2
    event = store.list_events(TENANT, USER)[-1]
    assert (event.type, event.step_id, event.details) == (EventType.STEP_ERROR, "profile", {"code": "upload_failed"})
    assert counted(event) == ("profile", {"errors": 1, "e#upload_failed": 1})


def test_a_completed_step_has_no_failed_attempt_to_record(
    services: tuple[ProgressService, FlowAdmin], store: FakeOnboardingStore
) -> None:
    users, _ = services
    users.step(TENANT, USER, command(step_id="profile", action="complete"), None)

    with pytest.raises(errors.DomainError) as refused:
        users.step(TENANT, USER, command(step_id="profile", action=StepAction.ERROR, error_code="late"), None)
    assert refused.value.code == errors.BIZ_STEP_TRANSITION_INVALID
