"""The onboarding state machine: enrolment, step moves and refusals, finishing, milestones and restarts."""

from __future__ import annotations

import pytest

from firstmile.errors import DomainError
from firstmile.onboarding import logic
from firstmile.onboarding.logic import flags_unavailable
from firstmile.onboarding.models import (
    EventType,
    FlowVersion,
    Milestone,
    OnboardingState,
    Progress,
    StepAction,
    StepCommand,
    StepState,
    Transition,
)
from tests.unit.onboarding.flows import (
    NOW,
    TENANT,
    USER,
    at,
    done,
    enrolled,
    flow,
    gate,
    progress_with,
    simple_flow,
    step,
)

NS, STARTED, COMPLETED, SKIPPED = StepState.NOT_STARTED, StepState.STARTED, StepState.COMPLETED, StepState.SKIPPED
START, COMPLETE, SKIP = StepAction.START, StepAction.COMPLETE, StepAction.SKIP


def command(step_id: str, action: StepAction) -> StepCommand:
    return StepCommand(step_id=step_id, action=action)


def refusal(call: object) -> DomainError:
    """Run a zero-argument call that must be refused and return the problem."""
    assert callable(call)
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def assert_changed(before: Progress, transition: Transition, *types: EventType) -> None:
    """One accepted change: the next version, and events of these types all carrying it."""
    assert transition.changed
    assert transition.progress.version == before.version + 1
    assert [e.type for e in transition.events] == list(types)
    assert {e.progress_version for e in transition.events} == {before.version + 1}
    assert all((e.tenant, e.user) == (before.tenant, before.user) for e in transition.events)


def assert_no_op(before: Progress, transition: Transition) -> None:
    assert not transition.changed
    assert transition.events == []
    assert transition.progress == before
    assert transition.progress.version == before.version


# --- enrolment --------------------------------------------------------------------------------------------


def test_enrolment_starts_version_one_with_one_enrolled_event() -> None:
    version = simple_flow()

    transition = logic.enrol(TENANT, USER, version, NOW, sample=True, expires_at=1_900_000_000)

    progress = transition.progress
    assert (progress.flow_id, progress.flow_version, progress.version) == ("getting-started", 1, 1)
    assert progress.state is OnboardingState.IN_PROGRESS
    assert progress.steps == {} and progress.milestones == {}
    assert (progress.enrolled_at, progress.updated_at) == (NOW, NOW)
    assert (progress.sample, progress.expires_at) == (True, 1_900_000_000)
    [event] = transition.events
    assert event.type is EventType.ENROLLED
    assert (event.progress_version, event.at, event.flow_id, event.flow_version) == (1, NOW, "getting-started", 1)
    assert event.sample is True


# --- step moves -------------------------------------------------------------------------------------------

ALLOWED_MOVES = [
    (NS, START, STARTED, EventType.STEP_STARTED),
    (NS, COMPLETE, COMPLETED, EventType.STEP_COMPLETED),
    (NS, SKIP, SKIPPED, EventType.STEP_SKIPPED),
    (STARTED, COMPLETE, COMPLETED, EventType.STEP_COMPLETED),
    (STARTED, SKIP, SKIPPED, EventType.STEP_SKIPPED),
    (SKIPPED, START, STARTED, EventType.STEP_STARTED),
    (SKIPPED, COMPLETE, COMPLETED, EventType.STEP_COMPLETED),
]


@pytest.mark.parametrize(("initial", "action", "expected", "event_type"), ALLOWED_MOVES)
def test_every_allowed_move_changes_the_step_and_records_one_event(
    initial: StepState, action: StepAction, expected: StepState, event_type: EventType
) -> None:
    # Given an optional step (so that skipping it is allowed) in the initial state
    version = simple_flow()
    before = progress_with(version, {"invite": initial})

    # When the user acts on it
    transition = logic.apply_step(before, version, command("invite", action), at(5), flags_unavailable)

    # Then the step moved, the version went up by one and the event names the step
    assert transition.progress.steps["invite"].state is expected
    assert transition.progress.updated_at == at(5)
    assert_changed(before, transition, event_type)
    assert transition.events[0].step_id == "invite"
    assert transition.events[0].at == at(5)


@pytest.mark.parametrize(("state", "action"), [(STARTED, START), (COMPLETED, COMPLETE), (SKIPPED, SKIP)])
def test_the_same_action_on_a_step_already_in_that_state_is_a_no_op(state: StepState, action: StepAction) -> None:
    version = simple_flow()
    before = progress_with(version, {"invite": state})

    transition = logic.apply_step(before, version, command("invite", action), at(5), flags_unavailable)

    assert_no_op(before, transition)


@pytest.mark.parametrize("action", [START, SKIP])
def test_a_completed_step_cannot_move_again(action: StepAction) -> None:
    version = simple_flow()
    before = progress_with(version, {"invite": COMPLETED})

    problem = refusal(lambda: logic.apply_step(before, version, command("invite", action), at(5), flags_unavailable))

    assert problem.code == "BIZ_STEP_TRANSITION_INVALID"


def test_completing_a_step_never_started_sets_both_timestamps() -> None:
    version = simple_flow()
    before = enrolled(version)

    transition = logic.apply_step(before, version, command("connect", COMPLETE), at(3), flags_unavailable)

    where = transition.progress.steps["connect"]
    assert (where.started_at, where.completed_at, where.skipped_at) == (at(3), at(3), None)


def test_timestamps_already_set_are_kept_and_each_records_the_first_time() -> None:
    # Given an optional step started, skipped, started again and completed
    version = simple_flow()
    progress = enrolled(version)
    for minutes, action in [(1, START), (2, SKIP), (3, START), (4, COMPLETE)]:
        progress = logic.apply_step(
            progress, version, command("invite", action), at(minutes), flags_unavailable
        ).progress

    # Then each timestamp is the first time the step entered that state, and the version counted every move
    where = progress.steps["invite"]
    assert where.state is COMPLETED
    assert (where.started_at, where.skipped_at, where.completed_at) == (at(1), at(2), at(4))
    assert progress.version == 5


def test_a_command_leaves_the_progress_it_was_given_untouched() -> None:
    version = simple_flow()
    before = progress_with(version, {"connect": STARTED})
    snapshot = before.model_copy(deep=True)

    logic.apply_step(before, version, command("connect", COMPLETE), at(1), flags_unavailable)

    assert before == snapshot


def test_an_unknown_step_is_not_found() -> None:
    version = simple_flow()

    problem = refusal(
        lambda: logic.apply_step(enrolled(version), version, command("nope", START), at(1), flags_unavailable)
    )

    assert problem.code == "RES_STEP_NOT_FOUND"
    assert "nope" in problem.detail


@pytest.mark.parametrize("gate_answer", [None, False])
def test_a_step_hidden_by_its_flag_cannot_be_acted_on(gate_answer: bool | None) -> None:
    version = flow(step("connect", 1), step("beta_tour", 2, flag="beta-tour"))

    problem = refusal(
        lambda: logic.apply_step(
            enrolled(version), version, command("beta_tour", START), at(1), gate(beta_tour=gate_answer)
        )
    )

    assert problem.code == "BIZ_STEP_HIDDEN"


def test_a_gated_step_whose_flag_is_on_can_be_acted_on() -> None:
    version = flow(step("connect", 1), step("beta_tour", 2, flag="beta-tour"))

    transition = logic.apply_step(enrolled(version), version, command("beta_tour", START), at(1), gate(beta_tour=True))

    assert transition.progress.steps["beta_tour"].state is STARTED


@pytest.mark.parametrize("finished", [OnboardingState.COMPLETED, OnboardingState.SKIPPED])
@pytest.mark.parametrize("action", [START, COMPLETE, SKIP])
def test_steps_cannot_move_once_the_onboarding_is_finished(finished: OnboardingState, action: StepAction) -> None:
    version = simple_flow()
    before = progress_with(version, {"invite": STARTED}, state=finished)

    problem = refusal(lambda: logic.apply_step(before, version, command("invite", action), at(1), flags_unavailable))

    assert problem.code == "BIZ_ONBOARDING_FINISHED"


@pytest.mark.parametrize("initial", [NS, STARTED])
def test_a_required_step_cannot_be_skipped(initial: StepState) -> None:
    version = simple_flow()
    before = progress_with(version, {"connect": initial})

    problem = refusal(lambda: logic.apply_step(before, version, command("connect", SKIP), at(1), flags_unavailable))

    assert problem.code == "BIZ_REQUIRED_STEP_NOT_SKIPPABLE"


def test_out_of_order_completion_is_refused_when_the_flow_says_so_and_names_the_open_steps() -> None:
    # Given a strict flow where the first required step is still open
    version = simple_flow(allow_out_of_order=False)
    before = enrolled(version)

    # When the user completes the third step
    problem = refusal(
        lambda: logic.apply_step(before, version, command("configure", COMPLETE), at(1), flags_unavailable)
    )

    # Then it is refused naming the required step before it (the optional one does not count)
    assert problem.code == "BIZ_STEP_OUT_OF_ORDER"
    assert "connect" in problem.detail and "invite" not in problem.detail
    assert problem.extensions["open_steps"] == ["connect"]


def test_a_strict_flow_still_lets_a_later_step_be_started_or_an_optional_one_skipped() -> None:
    version = simple_flow(allow_out_of_order=False)
    before = enrolled(version)

    started = logic.apply_step(before, version, command("configure", START), at(1), flags_unavailable)
    skipped = logic.apply_step(before, version, command("invite", SKIP), at(1), flags_unavailable)

    assert started.progress.steps["configure"].state is STARTED
    assert skipped.progress.steps["invite"].state is SKIPPED


def test_a_strict_flow_accepts_completion_once_earlier_required_steps_are_done() -> None:
    version = simple_flow(allow_out_of_order=False)
    before = progress_with(version, {"connect": COMPLETED})

    transition = logic.apply_step(before, version, command("configure", COMPLETE), at(1), flags_unavailable)

    assert transition.progress.steps["configure"].state is COMPLETED


def test_a_strict_flow_ignores_earlier_required_steps_hidden_by_their_flag() -> None:
    version = flow(step("beta_tour", 1, flag="beta-tour"), step("connect", 2), allow_out_of_order=False)

    transition = logic.apply_step(enrolled(version), version, command("connect", COMPLETE), at(1), flags_unavailable)

    assert transition.progress.steps["connect"].state is COMPLETED


def test_out_of_order_completion_is_accepted_when_the_flow_allows_it() -> None:
    version = simple_flow(allow_out_of_order=True)

    transition = logic.apply_step(enrolled(version), version, command("configure", COMPLETE), at(1), flags_unavailable)

    assert transition.progress.steps["configure"].state is COMPLETED
    assert "connect" not in transition.progress.steps


def test_completing_the_last_required_step_does_not_complete_the_onboarding() -> None:
    version = simple_flow()
    before = progress_with(version, {"connect": COMPLETED})

    transition = logic.apply_step(before, version, command("configure", COMPLETE), at(1), flags_unavailable)

    assert transition.progress.state is OnboardingState.IN_PROGRESS
    assert [e.type for e in transition.events] == [EventType.STEP_COMPLETED]


# --- the whole onboarding ---------------------------------------------------------------------------------


def test_completion_is_refused_while_required_steps_are_open_and_the_detail_names_them() -> None:
    version = simple_flow()

    problem = refusal(lambda: logic.complete_onboarding(enrolled(version), version, at(1), flags_unavailable))

    assert problem.code == "BIZ_ONBOARDING_INCOMPLETE"
    assert "connect" in problem.detail and "configure" in problem.detail
    assert "invite" not in problem.detail
    assert problem.extensions["open_steps"] == ["connect", "configure"]


def test_completion_is_accepted_with_optional_steps_open_and_hidden_required_steps_untouched() -> None:
    # Given every visible required step done, an optional step open and a required step hidden by its flag
    version = flow(step("connect", 1), step("invite", 2, required=False), step("beta_tour", 3, flag="beta-tour"))
    before = progress_with(version, {"connect": COMPLETED})

    transition = logic.complete_onboarding(before, version, at(9), flags_unavailable)

    assert transition.progress.state is OnboardingState.COMPLETED
    assert transition.progress.completed_at == at(9)
    assert_changed(before, transition, EventType.ONBOARDING_COMPLETED)


def test_a_skipped_step_counts_as_done_for_completion() -> None:
    version = flow(step("connect", 1), step("import", 2))
    before = progress_with(version, {"connect": COMPLETED, "import": SKIPPED})

    transition = logic.complete_onboarding(before, version, at(9), flags_unavailable)

    assert transition.progress.state is OnboardingState.COMPLETED


def test_a_gated_required_step_shown_by_its_flag_holds_completion_up() -> None:
    version = flow(step("connect", 1), step("beta_tour", 2, flag="beta-tour"))
    before = progress_with(version, {"connect": COMPLETED})

    problem = refusal(lambda: logic.complete_onboarding(before, version, at(9), gate(beta_tour=True)))

    assert problem.code == "BIZ_ONBOARDING_INCOMPLETE"
    assert "beta_tour" in problem.detail


def test_completing_a_completed_onboarding_is_a_no_op_and_a_skipped_one_is_refused() -> None:
    version = simple_flow()
    completed = progress_with(version, {"connect": COMPLETED, "configure": COMPLETED}, state=OnboardingState.COMPLETED)
    skipped = progress_with(version, {"connect": COMPLETED, "configure": COMPLETED}, state=OnboardingState.SKIPPED)

    assert_no_op(completed, logic.complete_onboarding(completed, version, at(9), flags_unavailable))
    problem = refusal(lambda: logic.complete_onboarding(skipped, version, at(9), flags_unavailable))
    assert problem.code == "BIZ_ONBOARDING_FINISHED"


def test_the_whole_onboarding_can_be_skipped_once() -> None:
    version = simple_flow()
    before = progress_with(version, {"connect": STARTED})

    transition = logic.skip_onboarding(before, version, at(4))

    assert transition.progress.state is OnboardingState.SKIPPED
    assert transition.progress.skipped_at == at(4)
    assert transition.progress.steps == before.steps
    assert_changed(before, transition, EventType.ONBOARDING_SKIPPED)
    assert_no_op(transition.progress, logic.skip_onboarding(transition.progress, version, at(5)))


def test_a_completed_onboarding_cannot_be_skipped() -> None:
    version = simple_flow()
    completed = progress_with(version, {}, state=OnboardingState.COMPLETED)

    problem = refusal(lambda: logic.skip_onboarding(completed, version, at(4)))

    assert problem.code == "BIZ_ONBOARDING_FINISHED"


# --- milestones -------------------------------------------------------------------------------------------


def milestone_flow() -> FlowVersion:
    return flow(
        step("connect", 1),
        step("first_run", 2, milestone=Milestone.FIRST_RUN),
        step("beta_run", 3, flag="beta-tour", milestone=Milestone.FIRST_RUN),
        step("sample", 4, milestone=Milestone.SAMPLE_WORKFLOW),
    )


def test_a_milestone_is_recorded_the_first_time_and_completes_its_visible_steps() -> None:
    # Given a flow with two steps completed by first_run, one of them hidden by its flag
    version = milestone_flow()
    before = progress_with(version, {"first_run": SKIPPED})

    # When the user reaches first_run
    transition = logic.reach_milestone(before, version, Milestone.FIRST_RUN, at(7), flags_unavailable)

    # Then the milestone is recorded, the visible step completes, the hidden one and the other milestone's do not
    after = transition.progress
    assert after.milestones == {Milestone.FIRST_RUN: at(7)}
    assert after.steps["first_run"].state is COMPLETED
    assert after.steps["first_run"].completed_at == at(7)
    assert "beta_run" not in after.steps and "sample" not in after.steps
    assert_changed(before, transition, EventType.MILESTONE_REACHED, EventType.STEP_COMPLETED)
    assert transition.events[0].milestone is Milestone.FIRST_RUN
    # ...its event saying the step had been skipped (so analytics stops counting the skip)
    assert (transition.events[1].step_id, transition.events[1].details) == (
        "first_run",
        {"by": "milestone", "was": "skipped"},
    )


def test_a_repeated_milestone_is_a_no_op() -> None:
    version = milestone_flow()
    first = logic.reach_milestone(enrolled(version), version, Milestone.FIRST_RUN, at(7), flags_unavailable)

    again = logic.reach_milestone(first.progress, version, Milestone.FIRST_RUN, at(9), flags_unavailable)

    assert_no_op(first.progress, again)
    assert again.progress.milestones[Milestone.FIRST_RUN] == at(7)


def test_a_repeated_milestone_completes_a_step_that_became_visible_without_recording_it_again() -> None:
    # Given first_run reached while the beta step was hidden
    version = milestone_flow()
    first = logic.reach_milestone(enrolled(version), version, Milestone.FIRST_RUN, at(7), flags_unavailable)

    # When it is reached again with the beta flag on
    again = logic.reach_milestone(first.progress, version, Milestone.FIRST_RUN, at(9), gate(beta_tour=True))

    # Then only the newly visible step completes; the milestone keeps its first time
    assert_changed(first.progress, again, EventType.STEP_COMPLETED)
    assert again.events[0].step_id == "beta_run"
    assert again.progress.milestones[Milestone.FIRST_RUN] == at(7)


def test_a_milestone_without_matching_steps_is_still_recorded() -> None:
    version = simple_flow()
    before = enrolled(version)

    transition = logic.reach_milestone(before, version, Milestone.SAMPLE_AGENT, at(2), flags_unavailable)

    assert transition.progress.milestones == {Milestone.SAMPLE_AGENT: at(2)}
    assert_changed(before, transition, EventType.MILESTONE_REACHED)


def test_milestones_are_recorded_after_the_onboarding_finished() -> None:
    version = milestone_flow()
    finished = progress_with(version, {"connect": COMPLETED}, state=OnboardingState.SKIPPED)

    transition = logic.reach_milestone(finished, version, Milestone.SAMPLE_WORKFLOW, at(2), flags_unavailable)

    assert transition.progress.milestones == {Milestone.SAMPLE_WORKFLOW: at(2)}
    assert transition.progress.steps["sample"].state is COMPLETED
    assert transition.progress.state is OnboardingState.SKIPPED


def test_a_milestone_does_not_touch_a_step_already_completed() -> None:
    version = milestone_flow()
    before = progress_with(version, {"first_run": done(COMPLETED, minutes=1)})

    transition = logic.reach_milestone(before, version, Milestone.FIRST_RUN, at(7), flags_unavailable)

    assert transition.progress.steps["first_run"].completed_at == at(1)
    assert_changed(before, transition, EventType.MILESTONE_REACHED)


# --- restart ----------------------------------------------------------------------------------------------


def test_restart_starts_over_keeping_milestones_and_continuing_the_version() -> None:
    # Given a user who finished version 1 with a milestone, and a version 2
    old = simple_flow()
    before = progress_with(
        old,
        {"connect": COMPLETED, "configure": COMPLETED},
        state=OnboardingState.COMPLETED,
        version=8,
        milestones={Milestone.FIRST_RUN: at(-60)},
        completed_at=at(-30),
        sample=True,
        expires_at=1_900_000_000,
        migrations=["mig_" + "0" * 22],
    )
    new = flow(step("connect", 1), version=2)

    # When an admin restarts them on version 2
    transition = logic.restart(before, TENANT, USER, new, at(5))

    # Then the progress is fresh on version 2, its version continues and the milestone is kept
    after = transition.progress
    assert (after.flow_version, after.version, after.state) == (2, 9, OnboardingState.IN_PROGRESS)
    assert after.steps == {} and after.completed_at is None
    assert after.milestones == {Milestone.FIRST_RUN: at(-60)}
    assert (after.enrolled_at, after.updated_at) == (at(5), at(5))
    assert (after.sample, after.expires_at) == (True, 1_900_000_000)
    assert after.migrations == ["mig_" + "0" * 22]
    assert_changed(before, transition, EventType.RESTARTED)
    assert transition.events[0].flow_version == 2
    assert transition.events[0].details == {
        "previous_flow_id": "getting-started",
        "previous_flow_version": 1,
        "previous_state": "completed",
    }


def test_restart_without_a_progress_starts_at_version_one() -> None:
    transition = logic.restart(None, TENANT, USER, simple_flow(), at(5))

    assert transition.progress.version == 1
    assert [(e.type, e.progress_version) for e in transition.events] == [(EventType.RESTARTED, 1)]
