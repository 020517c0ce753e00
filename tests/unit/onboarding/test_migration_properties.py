"""The laws of step-map migration over random flow versions, valid step maps and progress.

Each scenario is generated together with what the map means for every source step (the target steps its state
reaches, or that it is dropped), so the properties are checked against the generator's own bookkeeping rather than
against the code under test.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from firstmile.onboarding import logic
from firstmile.onboarding.models import (
    AddStep,
    DropStep,
    FlowVersion,
    MergeSteps,
    OnboardingState,
    Progress,
    RenameStep,
    SplitStep,
    StepMapOperation,
    StepProgress,
    StepState,
    UserOutcome,
)
from tests.unit.onboarding.flows import NOW, TENANT, at, flow, step

MIGRATION = "mig_" + "P" * 22
EARLIER_MIGRATION = "mig_" + "E" * 22
MIGRATED_AT = at(24 * 60)
POOL = [f"s{i}" for i in range(12)]
DONE = {StepState.COMPLETED, StepState.SKIPPED}
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

Fate = Literal["identity", "rename", "drop", "absent", "split", "merge_any", "merge_all"]


@dataclass
class Scenario:
    source: FlowVersion
    target: FlowVersion
    step_map: list[StepMapOperation]
    # Source step -> the target steps its state reaches (empty when dropped, explicitly or by absence).
    images: dict[str, list[str]] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)
    # Source step -> the require="all" merge it is part of.
    merged_all: dict[str, MergeSteps] = field(default_factory=dict)
    # Target steps no rule gives a state to (they start not_started).
    unreached: set[str] = field(default_factory=set)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Two versions of a flow and a valid map between them, using every kind of operation."""
    source_ids = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=8, unique=True))
    remaining = list(draw(st.permutations(source_ids)))
    fresh = (f"n{i}" for i in itertools.count())
    # Source ids consumed by an operation may be reused as target ids (a swap, a rename onto a dropped id).
    reusable: list[str] = []
    plan: list[tuple[Fate, list[str]]] = []
    while remaining:
        fate: Fate = draw(st.sampled_from(["identity", "rename", "drop", "absent", "split", "merge_any", "merge_all"]))
        group = [remaining.pop(0)]
        if fate in ("merge_any", "merge_all"):
            if not remaining:
                fate = "rename"
            else:
                extra = draw(st.integers(1, min(2, len(remaining))))
                group += remaining[:extra]
                del remaining[:extra]
        plan.append((fate, group))
        if fate not in ("identity", "absent"):
            reusable += group

    def target_id() -> str:
        if reusable and draw(st.booleans()):
            return reusable.pop(draw(st.integers(0, len(reusable) - 1)))
        return next(fresh)

    scenario_map: list[StepMapOperation] = []
    images: dict[str, list[str]] = {}
    dropped: set[str] = set()
    merged_all: dict[str, MergeSteps] = {}
    target_ids: list[str] = []
    for fate, group in plan:
        if fate == "identity":
            images[group[0]] = [group[0]]
            target_ids.append(group[0])
        elif fate in ("drop", "absent"):
            images[group[0]] = []
            dropped.add(group[0])
            if fate == "drop":
                scenario_map.append(DropStep(from_step=group[0]))
        elif fate == "rename":
            to = target_id()
            scenario_map.append(RenameStep(from_step=group[0], to_step=to))
            images[group[0]] = [to]
            target_ids.append(to)
        elif fate == "split":
            tos = [target_id() for _ in range(draw(st.integers(2, 3)))]
            scenario_map.append(SplitStep(from_step=group[0], to_steps=tos))
            images[group[0]] = tos
            target_ids += tos
        else:
            to = target_id()
            merge = MergeSteps(from_steps=group, to_step=to, require="all" if fate == "merge_all" else "any")
            scenario_map.append(merge)
            for source_id in group:
                images[source_id] = [to]
                if merge.require == "all":
                    merged_all[source_id] = merge
            target_ids.append(to)
    unreached: set[str] = set()
    for _ in range(draw(st.integers(0, 2))):
        add = AddStep(to_step=target_id(), state=draw(st.sampled_from(["not_started", "completed"])))
        scenario_map.append(add)
        target_ids.append(add.to_step)
        if add.state == "not_started":
            unreached.add(add.to_step)
    # Target steps no rule reaches (possibly reusing the id of a source step the map consumed).
    for _ in range(draw(st.integers(0, 2))):
        unreached.add(target_id())
    target_ids += sorted(unreached - set(target_ids))
    if not target_ids:
        target_ids.append(next(fresh))

    target_order = draw(st.permutations(target_ids))
    source = flow(*(step(s, i, required=draw(st.booleans())) for i, s in enumerate(source_ids)), version=1)
    target = flow(*(step(t, i, required=draw(st.booleans())) for i, t in enumerate(target_order)), version=2)
    step_map = list(draw(st.permutations(scenario_map)))
    return Scenario(source, target, step_map, images, dropped, merged_all, unreached)


@st.composite
def step_progress(draw: st.DrawFn) -> StepProgress:
    """Any state with timestamps the state machine could have left (earlier states keep their first time)."""
    state = draw(st.sampled_from(list(StepState)))
    moment = st.integers(0, 10_000).map(at)
    started = draw(moment) if state in (StepState.STARTED, StepState.COMPLETED) else draw(st.none() | moment)
    if state is StepState.NOT_STARTED:
        return StepProgress()
    return StepProgress(
        state=state,
        started_at=started,
        completed_at=draw(moment) if state is StepState.COMPLETED else None,
        skipped_at=draw(moment) if state is StepState.SKIPPED else draw(st.none() | moment),
    )


@st.composite
def progress_on(draw: st.DrawFn, source: FlowVersion, user: str = "u-prop") -> Progress:
    states = {s.id: draw(step_progress()) for s in source.definition.steps}
    return Progress(
        tenant=TENANT,
        user=user,
        flow_id=source.flow_id,
        flow_version=source.version,
        version=draw(st.integers(1, 50)),
        # Mostly users still on their way, whom a migration can make lose work.
        state=draw(
            st.sampled_from([OnboardingState.IN_PROGRESS] * 3 + [OnboardingState.COMPLETED, OnboardingState.SKIPPED])
        ),
        steps={s: where for s, where in states.items() if where.state is not StepState.NOT_STARTED},
        enrolled_at=NOW - timedelta(days=1),
        updated_at=NOW,
        migrations=draw(st.sampled_from([[], [EARLIER_MIGRATION]])),
    )


@st.composite
def scenario_and_progress(draw: st.DrawFn) -> tuple[Scenario, Progress]:
    scenario = draw(scenarios())
    return scenario, draw(progress_on(scenario.source))


def state_of(progress: Progress, step_id: str) -> StepState:
    return progress.steps[step_id].state if step_id in progress.steps else StepState.NOT_STARTED


@PROPERTY_SETTINGS
@given(scenario_and_progress())
def test_migration_is_idempotent_when_re_run_with_the_same_id(case: tuple[Scenario, Progress]) -> None:
    # Given a valid map and a user migrated once
    scenario, progress = case
    logic.validate_step_map(scenario.source.definition, scenario.target.definition, scenario.step_map)
    first = logic.migrate_progress(progress, scenario.source, scenario.target, scenario.step_map, MIGRATION, at(1))

    # When the same migration runs again (a redelivered batch), later
    again = logic.migrate_progress(
        first.progress, scenario.source, scenario.target, scenario.step_map, MIGRATION, MIGRATED_AT
    )

    # Then the first run changed the user once and the second run changed nothing
    assert first.progress.version == progress.version + 1
    assert [e.progress_version for e in first.events] == [progress.version + 1]
    assert first.progress.migrations.count(MIGRATION) == 1
    assert again.events == []
    assert again.progress == first.progress
    # And running it from the same stored progress gives the same answer (nothing depends on more than the inputs)
    assert (
        logic.migrate_progress(progress, scenario.source, scenario.target, scenario.step_map, MIGRATION, at(1)) == first
    )


@PROPERTY_SETTINGS
@given(scenario_and_progress())
def test_no_completed_step_is_lost_unless_the_map_drops_it(case: tuple[Scenario, Progress]) -> None:
    scenario, progress = case

    after = logic.migrate_progress(
        progress, scenario.source, scenario.target, scenario.step_map, MIGRATION, MIGRATED_AT
    ).progress

    target_ids = {s.id for s in scenario.target.definition.steps}
    assert set(after.steps) <= target_ids
    assert all(where.state is not StepState.NOT_STARTED for where in after.steps.values())
    assert not set(after.steps) & scenario.unreached
    for source_id, images in scenario.images.items():
        before = state_of(progress, source_id)
        if before not in DONE or source_id in scenario.dropped:
            continue
        if source_id in scenario.merged_all:
            merge = scenario.merged_all[source_id]
            parts = [state_of(progress, s) for s in merge.from_steps]
            every_part_done = all(p in DONE for p in parts) and StepState.COMPLETED in parts
            assert (state_of(after, merge.to_step) is StepState.COMPLETED) == every_part_done
            continue
        # A completed step reaches a completed target step; a skipped one at least a skipped one
        reached = {state_of(after, image) for image in images}
        if before is StepState.COMPLETED:
            assert StepState.COMPLETED in reached, (source_id, images)
        else:
            assert reached & DONE, (source_id, images)


@PROPERTY_SETTINGS
@given(scenario_and_progress())
def test_renamed_split_and_identical_steps_carry_their_timestamps(case: tuple[Scenario, Progress]) -> None:
    scenario, progress = case
    merged = {s for op in scenario.step_map if isinstance(op, MergeSteps) for s in op.from_steps}
    single_source = {op.from_step for op in scenario.step_map if isinstance(op, RenameStep | SplitStep)}
    carried = single_source | {s for s, images in scenario.images.items() if images == [s] and s not in merged}

    after = logic.migrate_progress(
        progress, scenario.source, scenario.target, scenario.step_map, MIGRATION, MIGRATED_AT
    ).progress

    for source_id in carried:
        for image in scenario.images[source_id]:
            assert after.steps.get(image) == progress.steps.get(source_id)


@PROPERTY_SETTINGS
@given(scenario_and_progress())
def test_the_preview_agrees_with_the_migration(case: tuple[Scenario, Progress]) -> None:
    scenario, progress = case

    preview = logic.preview_user(progress, scenario.source, scenario.target, scenario.step_map, MIGRATION, MIGRATED_AT)
    migrated = logic.migrate_progress(
        progress, scenario.source, scenario.target, scenario.step_map, MIGRATION, MIGRATED_AT
    ).progress

    # The states the preview shows are the ones the migration writes
    assert preview.before == {s.id: state_of(progress, s.id) for s in scenario.source.definition.steps}
    assert preview.after == {s.id: state_of(migrated, s.id) for s in scenario.target.definition.steps}
    # Work is lost exactly when a completed or skipped step is dropped, or merged with "all" into an open step
    lost = [
        s.id
        for s in scenario.source.definition.steps
        if state_of(progress, s.id) in DONE
        and (
            s.id in scenario.dropped
            or (s.id in scenario.merged_all and state_of(migrated, scenario.merged_all[s.id].to_step) not in DONE)
        )
    ]
    assert preview.dropped_completed_steps == lost
    if progress.state is not OnboardingState.IN_PROGRESS:
        assert preview.outcome is UserOutcome.FINISHED
    else:
        assert (preview.outcome is UserOutcome.LOSES_PROGRESS) == bool(lost)
        assert preview.outcome in (UserOutcome.LOSES_PROGRESS, UserOutcome.MIGRATED)
    # Once migrated, the same migration sees the user as done
    again = logic.preview_user(migrated, scenario.source, scenario.target, scenario.step_map, MIGRATION, MIGRATED_AT)
    assert again.outcome is UserOutcome.ALREADY_MIGRATED


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_the_plan_counts_every_user_once(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    users = [data.draw(progress_on(scenario.source, user=f"u-{i}")) for i in range(data.draw(st.integers(0, 6)))]

    plan = logic.plan_preview(scenario.source, scenario.target, scenario.step_map, users, truncated=False, now=NOW)

    assert set(plan.outcomes) == set(UserOutcome)
    assert sum(plan.outcomes.values()) == plan.users_examined == len(users)
    assert [s.user for s in plan.sample] == [u.user for u in users[:5]]
    assert all(0 <= op["users_changed"] <= len(users) for op in plan.operations)
