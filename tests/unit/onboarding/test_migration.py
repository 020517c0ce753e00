"""Step maps between two flow versions: which maps fit, and what migrating one user (or previewing it) does."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import TypeAdapter

from firstmile.errors import DomainError
from firstmile.onboarding import logic
from firstmile.onboarding.models import (
    AddStep,
    DropStep,
    EventType,
    FlowVersion,
    MergeSteps,
    Milestone,
    OnboardingState,
    Progress,
    RenameStep,
    SplitStep,
    StepMapOperation,
    StepProgress,
    StepState,
    Transition,
    UserMigrationPreview,
    UserOutcome,
)
from tests.unit.onboarding.flows import at, done, flow, progress_with, step

NS, STARTED, COMPLETED, SKIPPED = StepState.NOT_STARTED, StepState.STARTED, StepState.COMPLETED, StepState.SKIPPED
MIGRATION = "mig_" + "A" * 22


def versions(source_ids: Sequence[str], target_ids: Sequence[str]) -> tuple[FlowVersion, FlowVersion]:
    source = flow(*(step(s, i) for i, s in enumerate(source_ids)), version=1)
    target = flow(*(step(s, i) for i, s in enumerate(target_ids)), version=2)
    return source, target


def migrate(
    progress: Progress, source: FlowVersion, target: FlowVersion, step_map: Sequence[StepMapOperation]
) -> Transition:
    """Validate the map, then migrate with MIGRATION at minute 60."""
    logic.validate_step_map(source.definition, target.definition, step_map)
    return logic.migrate_progress(progress, source, target, step_map, MIGRATION, at(60))


def refusal_of(
    source_ids: Sequence[str], target_ids: Sequence[str], step_map: Sequence[StepMapOperation]
) -> list[tuple[str, str]]:
    """The (location, type) of each problem ``validate_step_map`` finds."""
    source, target = versions(source_ids, target_ids)
    with pytest.raises(DomainError) as caught:
        logic.validate_step_map(source.definition, target.definition, step_map)
    problem = caught.value
    assert problem.code == "VAL_STEP_MAP_INVALID"
    assert problem.fields
    return [(e.location, e.type) for e in problem.fields]


# --- which maps fit ---------------------------------------------------------------------------------------


def test_a_map_using_every_operation_fits() -> None:
    source, target = versions(["a", "b", "c", "d", "e", "keep"], ["a2", "bc", "d1", "d2", "new", "keep"])
    step_map: list[StepMapOperation] = [
        RenameStep(from_step="a", to_step="a2"),
        MergeSteps(from_steps=["b", "c"], to_step="bc"),
        SplitStep(from_step="d", to_steps=["d1", "d2"]),
        DropStep(from_step="e"),
        AddStep(to_step="new"),
    ]

    assert logic.validate_step_map(source.definition, target.definition, step_map) is None


def test_the_map_arrives_as_json_in_a_request_body() -> None:
    adapter = TypeAdapter(list[StepMapOperation])

    parsed = adapter.validate_python([{"op": "merge", "from_steps": ["b", "c"], "to_step": "bc", "require": "all"}])

    assert parsed == [MergeSteps(from_steps=["b", "c"], to_step="bc", require="all")]


def test_a_step_may_be_renamed_to_its_own_id_or_swapped_with_another() -> None:
    source, target = versions(["a", "b"], ["a", "b"])
    swap: list[StepMapOperation] = [RenameStep(from_step="a", to_step="b"), RenameStep(from_step="b", to_step="a")]

    logic.validate_step_map(source.definition, target.definition, swap)
    logic.validate_step_map(source.definition, target.definition, [RenameStep(from_step="a", to_step="a")])


def test_a_source_step_missing_from_the_source_version_is_refused() -> None:
    assert refusal_of(["a"], ["b"], [RenameStep(from_step="x", to_step="b")]) == [
        ("body.step_map.0", "unknown_source_step")
    ]


def test_a_target_step_missing_from_the_target_version_is_refused() -> None:
    assert refusal_of(["a"], ["b"], [DropStep(from_step="a"), AddStep(to_step="y")]) == [
        ("body.step_map.1", "unknown_target_step")
    ]


def test_a_source_step_consumed_twice_is_refused() -> None:
    assert refusal_of(["a", "b"], ["x", "y"], [RenameStep(from_step="a", to_step="x"), DropStep(from_step="a")]) == [
        ("body.step_map.1", "source_step_mapped_twice")
    ]


def test_a_source_step_named_twice_in_one_merge_is_refused() -> None:
    assert refusal_of(["a"], ["x"], [MergeSteps(from_steps=["a", "a"], to_step="x")]) == [
        ("body.step_map.0", "source_step_mapped_twice")
    ]


def test_a_target_step_produced_twice_is_refused() -> None:
    step_map: list[StepMapOperation] = [
        RenameStep(from_step="a", to_step="x"),
        SplitStep(from_step="b", to_steps=["x", "y"]),
    ]

    assert refusal_of(["a", "b"], ["x", "y"], step_map) == [("body.step_map.1", "target_step_produced_twice")]


def test_a_target_step_named_twice_in_one_split_is_refused() -> None:
    assert refusal_of(["a"], ["x"], [SplitStep(from_step="a", to_steps=["x", "x"])]) == [
        ("body.step_map.0", "target_step_produced_twice")
    ]


def test_a_target_step_produced_by_an_operation_and_carried_over_by_identity_is_refused() -> None:
    # "b" is in both versions and no operation consumes the old "b", so it would carry over onto the renamed step
    assert refusal_of(["a", "b"], ["b"], [RenameStep(from_step="a", to_step="b")]) == [
        ("body.step_map.0", "target_step_also_carried_over")
    ]
    assert refusal_of(["a", "b"], ["a", "b"], [AddStep(to_step="b")]) == [
        ("body.step_map.0", "target_step_also_carried_over")
    ]


def test_every_problem_of_a_map_is_reported_at_once() -> None:
    step_map: list[StepMapOperation] = [
        RenameStep(from_step="x", to_step="a"),
        DropStep(from_step="b"),
        DropStep(from_step="b"),
        AddStep(to_step="zz"),
    ]

    assert refusal_of(["a", "b"], ["a"], step_map) == [
        ("body.step_map.0", "unknown_source_step"),
        ("body.step_map.2", "source_step_mapped_twice"),
        ("body.step_map.3", "unknown_target_step"),
        ("body.step_map.0", "target_step_also_carried_over"),
    ]


# --- migrating one user -----------------------------------------------------------------------------------


def test_identity_carries_state_and_timestamps_of_steps_in_both_versions() -> None:
    source, target = versions(["a", "b", "gone"], ["a", "b", "fresh"])
    before = progress_with(source, {"a": done(COMPLETED, 5), "b": done(STARTED, 6), "gone": COMPLETED})

    after = migrate(before, source, target, []).progress

    assert after.steps == {"a": done(COMPLETED, 5), "b": done(STARTED, 6)}


def test_rename_moves_state_and_timestamps_to_the_new_step() -> None:
    source, target = versions(["a", "b"], ["a2", "b"])
    before = progress_with(source, {"a": done(COMPLETED, 5), "b": done(SKIPPED, 6)})

    after = migrate(before, source, target, [RenameStep(from_step="a", to_step="a2")]).progress

    assert after.steps == {"a2": done(COMPLETED, 5), "b": done(SKIPPED, 6)}


def test_a_swap_of_two_steps_exchanges_their_states() -> None:
    source, target = versions(["a", "b"], ["a", "b"])
    before = progress_with(source, {"a": done(COMPLETED, 5)})
    swap: list[StepMapOperation] = [RenameStep(from_step="a", to_step="b"), RenameStep(from_step="b", to_step="a")]

    after = migrate(before, source, target, swap).progress

    assert after.steps == {"b": done(COMPLETED, 5)}


def test_merge_any_takes_the_most_advanced_state_with_its_earliest_timestamps() -> None:
    source, target = versions(["a", "b", "c", "d"], ["all4"])
    before = progress_with(
        source,
        {
            "a": done(SKIPPED, 1),
            "b": StepProgress(state=COMPLETED, started_at=at(2), completed_at=at(20)),
            "c": StepProgress(state=COMPLETED, started_at=at(3), completed_at=at(10)),
            "d": done(STARTED, 0),
        },
    )

    after = migrate(before, source, target, [MergeSteps(from_steps=["a", "b", "c", "d"], to_step="all4")]).progress

    assert after.steps == {"all4": StepProgress(state=COMPLETED, started_at=at(2), completed_at=at(10))}


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([SKIPPED, STARTED], SKIPPED),
        ([STARTED, NS], STARTED),
    ],
)
def test_merge_any_of_steps_never_completed(states: list[StepState], expected: StepState) -> None:
    source, target = versions(["a", "b"], ["ab"])
    before = progress_with(source, dict(zip(["a", "b"], states, strict=True)))

    after = migrate(before, source, target, [MergeSteps(from_steps=["a", "b"], to_step="ab")]).progress

    assert after.steps["ab"].state is expected


def test_merge_any_of_untouched_steps_leaves_the_new_step_not_started() -> None:
    source, target = versions(["a", "b"], ["ab"])

    after = migrate(progress_with(source, {}), source, target, [MergeSteps(from_steps=["a", "b"], to_step="ab")])

    assert after.progress.steps == {}


def test_merge_all_completes_only_when_every_old_step_is_done_at_the_latest_moment() -> None:
    source, target = versions(["a", "b", "c"], ["abc"])
    before = progress_with(source, {"a": done(COMPLETED, 5), "b": done(SKIPPED, 30), "c": done(COMPLETED, 20)})
    merge_all = MergeSteps(from_steps=["a", "b", "c"], to_step="abc", require="all")

    after = migrate(before, source, target, [merge_all]).progress

    assert after.steps == {"abc": StepProgress(state=COMPLETED, started_at=at(5), completed_at=at(30))}


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([COMPLETED, STARTED], STARTED),
        ([COMPLETED, NS], STARTED),
        ([SKIPPED, SKIPPED], SKIPPED),
        ([NS, NS], NS),
    ],
)
def test_merge_all_short_of_every_step_done(states: list[StepState], expected: StepState) -> None:
    source, target = versions(["a", "b"], ["ab"])
    before = progress_with(source, {"a": done(states[0], 4), "b": done(states[1], 8)})

    after = migrate(before, source, target, [MergeSteps(from_steps=["a", "b"], to_step="ab", require="all")]).progress

    assert after.steps.get("ab", StepProgress()).state is expected
    if expected is STARTED:
        assert after.steps["ab"].started_at == at(4)


def test_split_copies_the_old_step_onto_each_new_one() -> None:
    source, target = versions(["setup"], ["account", "billing"])
    before = progress_with(source, {"setup": done(COMPLETED, 7)})

    after = migrate(before, source, target, [SplitStep(from_step="setup", to_steps=["account", "billing"])]).progress

    assert after.steps == {"account": done(COMPLETED, 7), "billing": done(COMPLETED, 7)}


def test_drop_discards_the_old_step() -> None:
    source, target = versions(["a", "legacy"], ["a", "legacy2"])
    before = progress_with(source, {"a": COMPLETED, "legacy": COMPLETED})

    after = migrate(before, source, target, [DropStep(from_step="legacy")]).progress

    assert set(after.steps) == {"a"}


def test_a_target_step_reusing_the_id_of_a_dropped_step_starts_not_started() -> None:
    source, target = versions(["a", "tour"], ["a", "tour"])
    before = progress_with(source, {"a": COMPLETED, "tour": COMPLETED})

    after = migrate(before, source, target, [DropStep(from_step="tour")]).progress

    assert set(after.steps) == {"a"}


def test_add_starts_not_started_or_completed_now() -> None:
    source, target = versions(["a"], ["a", "later", "granted"])
    step_map: list[StepMapOperation] = [AddStep(to_step="later"), AddStep(to_step="granted", state="completed")]

    after = migrate(progress_with(source, {}), source, target, step_map).progress

    assert after.steps == {"granted": StepProgress(state=COMPLETED, started_at=at(60), completed_at=at(60))}


def test_migration_moves_the_user_and_keeps_everything_but_the_steps() -> None:
    # Given a sample user who skipped the onboarding, with a milestone and an earlier migration
    source, target = versions(["a"], ["a"])
    before = progress_with(
        source,
        {"a": COMPLETED},
        state=OnboardingState.SKIPPED,
        skipped_at=at(2),
        milestones={Milestone.FIRST_RUN: at(1)},
        sample=True,
        expires_at=1_900_000_000,
        migrations=["mig_" + "0" * 22],
        version=7,
        enrolled_version=1,
    )

    # When migrated to version 2
    transition = migrate(before, source, target, [])

    # Then only the version, the steps' home and the migrations list change; one migrated event at version 8
    after = transition.progress
    assert (after.flow_id, after.flow_version, after.version, after.updated_at) == (source.flow_id, 2, 8, at(60))
    assert (after.state, after.skipped_at, after.enrolled_at) == (OnboardingState.SKIPPED, at(2), before.enrolled_at)
    assert after.milestones == {Milestone.FIRST_RUN: at(1)}
    assert (after.sample, after.expires_at) == (True, 1_900_000_000)
    assert after.migrations == ["mig_" + "0" * 22, MIGRATION]
    [event] = transition.events
    assert (event.type, event.progress_version, event.flow_version, event.sample) == (EventType.MIGRATED, 8, 2, True)
    assert event.details == {"migration_id": MIGRATION, "from_version": 1, "to_version": 2}
    # And the version they enrolled on stays, so analytics keeps counting them there
    assert (after.enrolled_version, event.enrolled_version) == (1, 1)


def test_migrating_again_with_the_same_id_changes_nothing() -> None:
    source, target = versions(["a"], ["a2"])
    once = migrate(progress_with(source, {"a": COMPLETED}), source, target, [RenameStep(from_step="a", to_step="a2")])

    again = logic.migrate_progress(once.progress, source, target, [], MIGRATION, at(90))

    assert again.events == []
    assert again.progress == once.progress


def test_a_progress_not_on_the_source_version_is_refused() -> None:
    source, target = versions(["a"], ["a"])
    elsewhere = progress_with(target, {})

    with pytest.raises(DomainError) as caught:
        logic.migrate_progress(elsewhere, source, target, [], MIGRATION, at(1))

    assert caught.value.code == "BIZ_STEP_TRANSITION_INVALID"


# --- previews ---------------------------------------------------------------------------------------------

PREVIEW_SOURCE, PREVIEW_TARGET = versions(["a", "b", "c", "old", "gone"], ["a", "bc", "fresh"])
PREVIEW_MAP: list[StepMapOperation] = [
    MergeSteps(from_steps=["b", "c"], to_step="bc", require="all"),
    DropStep(from_step="old"),
    AddStep(to_step="fresh", state="completed"),
]


def preview(progress: Progress, migration_id: str | None = None) -> UserMigrationPreview:
    return logic.preview_user(progress, PREVIEW_SOURCE, PREVIEW_TARGET, PREVIEW_MAP, migration_id, at(60))


def test_a_user_whose_work_all_carries_over_is_migrated() -> None:
    result = preview(progress_with(PREVIEW_SOURCE, {"a": COMPLETED, "b": COMPLETED, "c": SKIPPED, "old": STARTED}))

    assert result.outcome is UserOutcome.MIGRATED
    assert result.before == {"a": COMPLETED, "b": COMPLETED, "c": SKIPPED, "old": STARTED, "gone": NS}
    assert result.after == {"a": COMPLETED, "bc": COMPLETED, "fresh": COMPLETED}
    assert result.dropped_completed_steps == []


@pytest.mark.parametrize(
    ("steps", "lost"),
    [
        ({"old": COMPLETED}, ["old"]),
        ({"old": SKIPPED}, ["old"]),
        ({"gone": COMPLETED}, ["gone"]),
        ({"b": COMPLETED, "c": STARTED}, ["b"]),
    ],
    ids=["dropped-completed", "dropped-skipped", "absent-from-target", "merge-all-not-carried"],
)
def test_a_user_whose_completed_or_skipped_work_is_dropped_loses_progress(
    steps: dict[str, StepState], lost: list[str]
) -> None:
    result = preview(progress_with(PREVIEW_SOURCE, steps))

    assert result.outcome is UserOutcome.LOSES_PROGRESS
    assert result.dropped_completed_steps == lost


def test_a_finished_user_is_finished_even_when_they_lose_steps() -> None:
    result = preview(progress_with(PREVIEW_SOURCE, {"old": COMPLETED}, state=OnboardingState.COMPLETED))

    assert result.outcome is UserOutcome.FINISHED
    assert result.dropped_completed_steps == ["old"]


def test_a_user_already_migrated_or_elsewhere_is_left_alone() -> None:
    migrated = logic.migrate_progress(
        progress_with(PREVIEW_SOURCE, {"a": COMPLETED}), PREVIEW_SOURCE, PREVIEW_TARGET, PREVIEW_MAP, MIGRATION, at(1)
    ).progress
    elsewhere = progress_with(flow(step("a", 1), version=9), {"a": STARTED})

    assert preview(migrated, MIGRATION).outcome is UserOutcome.ALREADY_MIGRATED
    assert preview(migrated).outcome is UserOutcome.NOT_ON_SOURCE
    result = preview(elsewhere)
    assert result.outcome is UserOutcome.NOT_ON_SOURCE
    assert result.before == result.after == {"a": STARTED}


def test_the_plan_counts_every_outcome_and_the_users_each_operation_changes() -> None:
    # Given five users: two migrated cleanly, one losing work, one finished and one on another version
    users = [
        progress_with(PREVIEW_SOURCE, {"a": COMPLETED}, user="u-1"),
        progress_with(PREVIEW_SOURCE, {"b": STARTED}, user="u-2"),
        progress_with(PREVIEW_SOURCE, {"old": COMPLETED}, user="u-3"),
        progress_with(PREVIEW_SOURCE, {"c": SKIPPED}, user="u-4", state=OnboardingState.COMPLETED),
        progress_with(PREVIEW_TARGET, {"a": COMPLETED}, user="u-5"),
    ]

    # When the dry run looks at them
    plan = logic.plan_preview(
        PREVIEW_SOURCE, PREVIEW_TARGET, PREVIEW_MAP, users, truncated=True, now=at(1), sample_size=2
    )

    # Then every outcome is counted, zeros included, and each operation counts the users it touches
    assert plan.outcomes == {
        UserOutcome.MIGRATED: 2,
        UserOutcome.LOSES_PROGRESS: 1,
        UserOutcome.FINISHED: 1,
        UserOutcome.ALREADY_MIGRATED: 0,
        UserOutcome.NOT_ON_SOURCE: 1,
    }
    assert plan.operations == [
        {"operation": {"op": "merge", "from_steps": ["b", "c"], "to_step": "bc", "require": "all"}, "users_changed": 2},
        {"operation": {"op": "drop", "from_step": "old"}, "users_changed": 1},
        {"operation": {"op": "add", "to_step": "fresh", "state": "completed"}, "users_changed": 4},
    ]
    assert (plan.flow_id, plan.from_version, plan.to_version) == (PREVIEW_SOURCE.flow_id, 1, 2)
    assert (plan.users_examined, plan.truncated) == (5, True)
    assert [s.user for s in plan.sample] == ["u-1", "u-2"]


def test_an_add_of_a_not_started_step_changes_nobody() -> None:
    source, target = versions(["a"], ["a", "later"])
    users = [progress_with(source, {"a": COMPLETED})]

    plan = logic.plan_preview(source, target, [AddStep(to_step="later")], users, truncated=False, now=at(1))

    assert plan.operations[0]["users_changed"] == 0
    assert plan.outcomes[UserOutcome.MIGRATED] == 1
