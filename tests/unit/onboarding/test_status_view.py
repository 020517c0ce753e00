"""The status a client draws: visible and hidden steps, the current step, percent complete, hints, milestones."""

from __future__ import annotations

import pytest

from firstmile.onboarding import logic
from firstmile.onboarding.logic import flags_unavailable
from firstmile.onboarding.models import HiddenStep, Milestone, MilestoneStatus, OnboardingState, StepState
from tests.unit.onboarding.flows import NOW, always_on, at, enrolled, flow, gate, progress_with, simple_flow, step

NS, STARTED, COMPLETED, SKIPPED = StepState.NOT_STARTED, StepState.STARTED, StepState.COMPLETED, StepState.SKIPPED


def test_a_new_user_sees_every_step_open_and_the_first_as_current() -> None:
    version = simple_flow()

    status = logic.status_view(enrolled(version), version, flags_unavailable)

    assert (status.flow_id, status.flow_name, status.flow_version) == ("getting-started", "Getting started", 1)
    assert [s.id for s in status.steps] == ["connect", "invite", "configure"]
    assert {s.state for s in status.steps} == {NS}
    assert status.current_step == "connect"
    assert status.percent_complete == 0
    assert (status.state, status.completed, status.skipped) == (OnboardingState.IN_PROGRESS, False, False)
    assert status.enrolled_at == NOW
    assert status.progress_version == 1
    assert status.hidden_steps == []
    assert status.needs_reconsent is False


def test_each_step_shows_its_state_and_timestamps_and_the_current_step_is_the_first_open_one() -> None:
    version = simple_flow()
    progress = progress_with(version, {"connect": COMPLETED, "invite": SKIPPED}, version=4)

    status = logic.status_view(progress, version, flags_unavailable)

    by_id = {s.id: s for s in status.steps}
    assert (by_id["connect"].state, by_id["connect"].completed_at) == (COMPLETED, NOW)
    assert (by_id["invite"].state, by_id["invite"].skipped_at) == (SKIPPED, NOW)
    assert by_id["configure"].state is NS
    assert by_id["invite"].required is False
    assert status.current_step == "configure"
    assert status.progress_version == 4


def test_a_started_step_is_still_current() -> None:
    version = simple_flow()

    status = logic.status_view(progress_with(version, {"connect": STARTED}), version, flags_unavailable)

    assert status.current_step == "connect"
    assert status.percent_complete == 0


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ({}, 0),
        ({"connect": COMPLETED}, 33),
        ({"connect": COMPLETED, "invite": SKIPPED}, 66),
        ({"connect": COMPLETED, "invite": SKIPPED, "configure": COMPLETED}, 100),
        ({"invite": STARTED}, 0),
    ],
)
def test_percent_complete_counts_completed_and_skipped_steps_rounded_down(
    steps: dict[str, StepState], expected: int
) -> None:
    version = simple_flow()

    status = logic.status_view(progress_with(version, steps), version, flags_unavailable)

    assert status.percent_complete == expected


def test_a_completed_onboarding_is_100_percent_with_no_current_step() -> None:
    version = simple_flow()
    progress = progress_with(version, {"connect": COMPLETED}, state=OnboardingState.COMPLETED, completed_at=at(9))

    status = logic.status_view(progress, version, flags_unavailable)

    assert status.percent_complete == 100
    assert status.current_step is None
    assert (status.completed, status.completed_at) == (True, at(9))


def test_a_skipped_onboarding_keeps_its_percent_and_has_no_current_step() -> None:
    version = simple_flow()
    progress = progress_with(version, {"connect": COMPLETED}, state=OnboardingState.SKIPPED, skipped_at=at(3))

    status = logic.status_view(progress, version, flags_unavailable)

    assert status.percent_complete == 33
    assert status.current_step is None
    assert (status.skipped, status.skipped_at) == (True, at(3))


def test_tutorial_hints_come_from_visible_open_steps_in_order() -> None:
    version = flow(
        step("connect", 1, hint="Paste your API key"),
        step("invite", 2, hint="Bring a teammate"),
        step("configure", 3),
        step("beta_tour", 4, flag="beta-tour", hint="Try the beta"),
        step("publish", 5, hint="Go live"),
    )
    progress = progress_with(version, {"connect": COMPLETED, "invite": STARTED})

    status = logic.status_view(progress, version, flags_unavailable)

    assert [(h.step_id, h.hint) for h in status.tutorial_hints] == [
        ("invite", "Bring a teammate"),
        ("publish", "Go live"),
    ]


def test_gated_steps_are_hidden_while_flags_cannot_be_evaluated() -> None:
    version = flow(step("connect", 1), step("beta_tour", 2, flag="beta-tour"), step("configure", 3))

    status = logic.status_view(enrolled(version), version, flags_unavailable)

    assert [s.id for s in status.steps] == ["connect", "configure"]
    assert status.hidden_steps == [
        HiddenStep(id="beta_tour", gating_flag="beta-tour", reason="flag_evaluation_unavailable")
    ]


def test_a_gated_step_whose_flag_is_off_is_hidden_with_that_reason_and_left_out_of_the_percent() -> None:
    version = flow(step("connect", 1), step("beta_tour", 2, flag="beta-tour"))
    progress = progress_with(version, {"connect": COMPLETED})

    status = logic.status_view(progress, version, gate(beta_tour=False))

    assert status.hidden_steps == [HiddenStep(id="beta_tour", gating_flag="beta-tour", reason="flag_off")]
    assert status.percent_complete == 100
    assert status.current_step is None


def test_a_gated_step_whose_flag_is_on_is_shown_in_its_place() -> None:
    version = flow(step("connect", 1), step("beta_tour", 2, flag="beta-tour"), step("configure", 3))
    progress = progress_with(version, {"connect": COMPLETED})

    status = logic.status_view(progress, version, always_on)

    assert [s.id for s in status.steps] == ["connect", "beta_tour", "configure"]
    assert status.hidden_steps == []
    assert status.current_step == "beta_tour"
    assert status.percent_complete == 33


def test_with_no_visible_step_an_open_onboarding_is_0_percent() -> None:
    version = flow(step("beta_tour", 1, flag="beta-tour"))

    status = logic.status_view(enrolled(version), version, flags_unavailable)

    assert (status.steps, status.current_step, status.percent_complete) == ([], None, 0)


def test_every_milestone_appears_reached_or_not() -> None:
    version = simple_flow()
    progress = progress_with(version, {}, milestones={Milestone.SAMPLE_AGENT: at(2)}, sample=True)

    status = logic.status_view(progress, version, flags_unavailable)

    assert status.milestones == {
        Milestone.SAMPLE_WORKFLOW: MilestoneStatus(reached=False),
        Milestone.SAMPLE_AGENT: MilestoneStatus(reached=True, at=at(2)),
        Milestone.FIRST_RUN: MilestoneStatus(reached=False),
    }
    assert status.sample is True


def test_visible_steps_asks_the_gate_about_each_gated_step() -> None:
    version = flow(step("connect", 1), step("a", 2, flag="flag-a"), step("b", 3, flag="flag-b"), step("c", 4))
    asked: list[str] = []

    def recording_gate(flag_key: str) -> bool | None:
        asked.append(flag_key)
        return flag_key == "flag-b"

    shown, hidden = logic.visible_steps(version.definition, recording_gate)

    assert asked == ["flag-a", "flag-b"]
    assert [s.id for s in shown] == ["connect", "b", "c"]
    assert [(h.id, h.reason) for h in hidden] == [("a", "flag_off")]
