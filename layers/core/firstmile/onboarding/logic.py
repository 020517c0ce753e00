"""Onboarding's pure logic: the step state machine, the status view, and step-map migration.

No I/O here. Every command takes the stored ``Progress`` and the ``FlowVersion`` it is on and returns a
``Transition``: the next progress (``version`` = the read version + 1) and the events it records, every event
carrying that new version as its ``progress_version``. A command that changes nothing returns the progress unchanged
(same version) and no events, and the caller writes nothing. Refusals raise ``firstmile.errors.DomainError`` with
onboarding's codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from firstmile import errors
from firstmile.onboarding.models import (
    SEGMENT_ATTRIBUTES,
    SEGMENT_VALUE,
    AddStep,
    DropStep,
    EventType,
    FlowDefinition,
    FlowVersion,
    HiddenStep,
    MergeSteps,
    MigrationPlanPreview,
    Milestone,
    MilestoneStatus,
    OnboardingState,
    OnboardingStatus,
    Progress,
    RenameStep,
    SplitStep,
    StepAction,
    StepCommand,
    StepDefinition,
    StepMapOperation,
    StepProgress,
    StepState,
    StepStatus,
    Transition,
    TransitionEvent,
    TutorialHint,
    UserMigrationPreview,
    UserOutcome,
)

FlagGate = Callable[[str], bool | None]
"""Whether a flag is on for the user: ``True``/``False``, or ``None`` when flags cannot be evaluated."""

# A step that is completed or skipped no longer holds the user up.
_DONE = frozenset({StepState.COMPLETED, StepState.SKIPPED})
# How far a step has come, for merging several old steps into one (completed > skipped > started > not_started).
_ADVANCEMENT = {StepState.NOT_STARTED: 0, StepState.STARTED: 1, StepState.SKIPPED: 2, StepState.COMPLETED: 3}
_ACTION_STATE = {
    StepAction.START: StepState.STARTED,
    StepAction.COMPLETE: StepState.COMPLETED,
    StepAction.SKIP: StepState.SKIPPED,
}
_ACTION_EVENT = {
    StepAction.START: EventType.STEP_STARTED,
    StepAction.COMPLETE: EventType.STEP_COMPLETED,
    StepAction.SKIP: EventType.STEP_SKIPPED,
}
# The outcomes of users a migration moves to the target version.
_MOVED_OUTCOMES = frozenset({UserOutcome.MIGRATED, UserOutcome.LOSES_PROGRESS, UserOutcome.FINISHED})


def flags_unavailable(_flag_key: str) -> bool | None:
    """The gate used until feature flags exist: every gated step is hidden, with reason
    ``flag_evaluation_unavailable``."""
    return None


def visible_steps(flow: FlowDefinition, gate: FlagGate) -> tuple[list[StepDefinition], list[HiddenStep]]:
    """The steps this user sees, in order, and the gated steps hidden from them with the reason.

    A step without a gating flag is always visible; a gated step is visible when ``gate`` answers ``True``, hidden
    with reason ``flag_off`` on ``False`` and ``flag_evaluation_unavailable`` on ``None``. The gate is asked once
    per gated step.
    """
    shown: list[StepDefinition] = []
    hidden: list[HiddenStep] = []
    for step in flow.steps:
        if step.gating_flag is None:
            shown.append(step)
            continue
        verdict = gate(step.gating_flag)
        if verdict is True:
            shown.append(step)
        else:
            hidden.append(
                HiddenStep(
                    id=step.id,
                    gating_flag=step.gating_flag,
                    reason="flag_off" if verdict is False else "flag_evaluation_unavailable",
                )
            )
    return shown, hidden


def segment_of(attributes: Mapping[str, str]) -> dict[str, str]:
    """The caller's attributes an enrolment keeps for analytics' segments: those named in ``SEGMENT_ATTRIBUTES``
    whose value is a short plain token (anything else is left out, never refused), and ``returning``: ``true`` when
    the caller says so (in any case), else ``false``, so every user is first-time or returning."""
    kept = {
        name: value
        for name in SEGMENT_ATTRIBUTES
        if isinstance(value := attributes.get(name), str) and SEGMENT_VALUE.fullmatch(value)
    }
    kept["returning"] = "true" if kept.get("returning", "").lower() == "true" else "false"
    return kept


def enrol(
    tenant: str,
    user: str,
    flow: FlowVersion,
    now: datetime,
    *,
    sample: bool = False,
    expires_at: int | None = None,
    segment: Mapping[str, str] | None = None,
    analytics_opt_out: bool = False,
    accepted_policies: Mapping[str, str] | None = None,
) -> Transition:
    """A new progress (version 1) on ``flow`` with one ``enrolled`` event; ``segment`` as ``segment_of`` keeps it;
    ``analytics_opt_out`` as the user's consent has it (their events are then never counted)."""
    progress = Progress(
        tenant=tenant,
        user=user,
        flow_id=flow.flow_id,
        flow_version=flow.version,
        version=1,
        enrolled_at=now,
        enrolled_version=flow.version,
        updated_at=now,
        sample=sample,
        expires_at=expires_at,
        segment=dict(segment or {}),
        analytics_opt_out=analytics_opt_out,
        accepted_policies=dict(accepted_policies or {}),
    )
    return Transition(progress=progress, events=[_event(progress, EventType.ENROLLED, now)])


def apply_step(
    progress: Progress, flow: FlowVersion, command: StepCommand, now: datetime, gate: FlagGate
) -> Transition:
    """Start, complete or skip one step.

    - unknown step id: RES_STEP_NOT_FOUND; a step hidden by its flag: BIZ_STEP_HIDDEN;
    - onboarding already completed or skipped: BIZ_ONBOARDING_FINISHED;
    - skip of a required step: BIZ_REQUIRED_STEP_NOT_SKIPPABLE;
    - complete while ``allow_out_of_order`` is false and an earlier visible required step is neither completed nor
      skipped: BIZ_STEP_OUT_OF_ORDER (the detail and ``open_steps`` name them);
    - ``error`` records a failed attempt (``step_error`` with the code) and moves no state; on a completed step it
      is BIZ_STEP_TRANSITION_INVALID;
    - moves: not_started -> started | completed | skipped; started -> completed | skipped;
      skipped -> started | completed; completed -> anything else: BIZ_STEP_TRANSITION_INVALID;
    - the same action on a step already in that state is a no-op (no events, version unchanged);
    - completing sets ``started_at`` too when it was never started; timestamps already set are kept (each records
      the first time the step entered that state).
    The checks run in the order listed, so a refusal of the first kind wins over the later ones (a repeated action
    on a finished onboarding is refused, not a no-op). The event is ``step_started``, ``step_completed`` or
    ``step_skipped`` with the step id; a skip's ``reason`` goes into its details.
    Completing the last open required step does not complete the onboarding: that is ``complete_onboarding``.
    """
    definition = flow.definition
    step = definition.step(command.step_id)
    if step is None:
        raise errors.DomainError(
            errors.RES_STEP_NOT_FOUND,
            f"Flow {flow.flow_id} version {flow.version} has no step {command.step_id!r}.",
        )
    shown, hidden = visible_steps(definition, gate)
    if any(h.id == step.id for h in hidden):
        raise errors.DomainError(
            errors.BIZ_STEP_HIDDEN, f"Step {step.id!r} is hidden for this user by flag {step.gating_flag!r}."
        )
    _refuse_when_finished(progress)
    if command.action is StepAction.SKIP and step.required:
        raise errors.DomainError(
            errors.BIZ_REQUIRED_STEP_NOT_SKIPPABLE, f"Step {step.id!r} is required and cannot be skipped."
        )

    current = _step_progress(progress, step.id)
    if command.action is StepAction.ERROR:
        return _record_error(progress, step.id, current, command.error_code or "", now)
    wanted = _ACTION_STATE[command.action]
    if current.state == wanted:
        return _unchanged(progress)
    if current.state == StepState.COMPLETED:
        raise errors.DomainError(
            errors.BIZ_STEP_TRANSITION_INVALID,
            f"Step {step.id!r} is completed and cannot be {_past_tense(command.action)}.",
        )
    if command.action is StepAction.COMPLETE and not definition.allow_out_of_order:
        open_before = [
            s.id
            for s in shown
            if s.order < step.order and s.required and _step_progress(progress, s.id).state not in _DONE
        ]
        if open_before:
            raise errors.DomainError(
                errors.BIZ_STEP_OUT_OF_ORDER,
                f"Step {step.id!r} cannot be completed before the required steps {', '.join(open_before)}.",
                extensions={"open_steps": open_before},
            )

    steps = dict(progress.steps)
    steps[step.id] = _moved(current, wanted, now)
    updated = _next(progress, now, steps=steps)
    kind = _ACTION_EVENT[command.action]
    details = _taken_up(current) | ({"reason": command.reason} if command.reason else {})
    return Transition(progress=updated, events=[_event(updated, kind, now, step_id=step.id, details=details)])


def drop(progress: Progress, flow: FlowVersion, now: datetime, idle_days: int) -> Transition:
    """Mark a user idle for ``idle_days`` or more as dropped at the step they stopped at: the first required step of
    their version neither completed nor skipped, else the first such optional one, else none (every step done, the
    onboarding not completed). One ``dropped`` event with the step and ``details.idle_days``. Nothing happens to a
    user who finished, is dropped already, or is a sample user."""
    if progress.state != OnboardingState.IN_PROGRESS or progress.dropped_at is not None or progress.sample:
        return _unchanged(progress)
    open_steps = [s for s in flow.definition.steps if _step_progress(progress, s.id).state not in _DONE]
    stopped = next((s for s in open_steps if s.required), open_steps[0] if open_steps else None)
    step_id = stopped.id if stopped else None
    updated = _next(progress, now, dropped_at=now, dropped_step=step_id)
    details: dict[str, JsonValue] = {"idle_days": idle_days}
    return Transition(
        progress=updated, events=[_event(updated, EventType.DROPPED, now, step_id=step_id, details=details)]
    )


def returned(transition: Transition, before: Progress, now: datetime) -> Transition:
    """A change made by a dropped user: first a ``returned`` event at the step they were dropped at (analytics takes
    the drop back), then the change's own events, with the drop cleared from the progress."""
    if before.dropped_at is None or not transition.events:
        return transition
    progress = transition.progress.model_copy(update={"dropped_at": None, "dropped_step": None})
    back = _event(progress, EventType.RETURNED, now, step_id=before.dropped_step)
    return Transition(progress=progress, events=[back, *transition.events])


def _record_error(progress: Progress, step_id: str, current: StepProgress, code: str, now: datetime) -> Transition:
    """A failed attempt at a step: one ``step_error`` event with the code, the step's state unchanged. The progress
    still moves to its next version (each event is ordered by the version it produced). A completed step has
    nothing left to fail: BIZ_STEP_TRANSITION_INVALID."""
    if current.state == StepState.COMPLETED:
        raise errors.DomainError(
            errors.BIZ_STEP_TRANSITION_INVALID, f"Step {step_id!r} is completed; no failed attempt can follow."
        )
    updated = _next(progress, now)
    return Transition(
        progress=updated, events=[_event(updated, EventType.STEP_ERROR, now, step_id=step_id, details={"code": code})]
    )


def complete_onboarding(progress: Progress, flow: FlowVersion, now: datetime, gate: FlagGate) -> Transition:
    """Mark the whole onboarding completed.

    Refused with BIZ_ONBOARDING_INCOMPLETE (listing the open steps in the detail and in ``open_steps``) while a
    visible required step is neither completed nor skipped; BIZ_ONBOARDING_FINISHED when it was skipped; a no-op
    when already completed. Optional and hidden steps never hold it up.
    """
    if progress.state == OnboardingState.COMPLETED:
        return _unchanged(progress)
    if progress.state == OnboardingState.SKIPPED:
        raise errors.DomainError(errors.BIZ_ONBOARDING_FINISHED, "The onboarding was skipped; an admin can restart it.")
    shown, _ = visible_steps(flow.definition, gate)
    still_open = [s.id for s in shown if s.required and _step_progress(progress, s.id).state not in _DONE]
    if still_open:
        raise errors.DomainError(
            errors.BIZ_ONBOARDING_INCOMPLETE,
            f"Required steps are still open: {', '.join(still_open)}.",
            extensions={"open_steps": still_open},
        )
    updated = _next(progress, now, state=OnboardingState.COMPLETED, completed_at=now)
    return Transition(progress=updated, events=[_event(updated, EventType.ONBOARDING_COMPLETED, now)])


def skip_onboarding(progress: Progress, flow: FlowVersion, now: datetime, reason: str | None = None) -> Transition:
    """Skip the whole onboarding (the user opts out), with the ``reason`` code the caller gave, if any. A no-op when
    already skipped; BIZ_ONBOARDING_FINISHED when already completed. Step states are kept as they were."""
    if progress.state == OnboardingState.SKIPPED:
        return _unchanged(progress)
    if progress.state == OnboardingState.COMPLETED:
        raise errors.DomainError(errors.BIZ_ONBOARDING_FINISHED, "The onboarding is already completed.")
    updated = _next(progress, now, state=OnboardingState.SKIPPED, skipped_at=now)
    details: dict[str, JsonValue] = {"reason": reason} if reason else {}
    return Transition(progress=updated, events=[_event(updated, EventType.ONBOARDING_SKIPPED, now, details=details)])


def reach_milestone(
    progress: Progress, flow: FlowVersion, milestone: Milestone, now: datetime, gate: FlagGate
) -> Transition:
    """Record a milestone (first time only: its time is never moved) and complete every visible, not yet completed
    step whose ``completion_criteria.milestone`` is this milestone (one ``step_completed`` event each, with
    ``details = {"by": "milestone"}``, after the one ``milestone_reached`` event of a first time). Allowed after the
    onboarding finished (milestones are product facts); the flow's ``allow_out_of_order`` does not apply.

    A repeat is a no-op unless a matching step is still open (the user restarted, moved to a new version, or a flag
    now shows the step): then it completes that step without recording the milestone again.
    """
    first_time = milestone not in progress.milestones
    shown, _ = visible_steps(flow.definition, gate)
    to_complete = [
        s.id
        for s in shown
        if s.completion_criteria is not None
        and s.completion_criteria.milestone == milestone
        and _step_progress(progress, s.id).state != StepState.COMPLETED
    ]
    if not first_time and not to_complete:
        return _unchanged(progress)

    milestones = dict(progress.milestones)
    if first_time:
        milestones[milestone] = now
    steps = dict(progress.steps)
    for step_id in to_complete:
        steps[step_id] = _moved(_step_progress(progress, step_id), StepState.COMPLETED, now)
    updated = _next(progress, now, steps=steps, milestones=milestones)
    events = [_event(updated, EventType.MILESTONE_REACHED, now, milestone=milestone)] if first_time else []
    events += [
        _event(
            updated,
            EventType.STEP_COMPLETED,
            now,
            step_id=step_id,
            details={"by": "milestone", **_taken_up(_step_progress(progress, step_id))},
        )
        for step_id in to_complete
    ]
    return Transition(progress=updated, events=events)


def _taken_up(before: StepProgress) -> dict[str, JsonValue]:
    """An event's details when it takes up a step that was skipped (analytics then no longer counts the skip)."""
    return {"was": "skipped"} if before.state == StepState.SKIPPED else {}


def restart(progress: Progress | None, tenant: str, user: str, flow: FlowVersion, now: datetime) -> Transition:
    """Start the user over on ``flow``: fresh progress whose ``version`` continues from the old one (so the write
    stays conditional), milestones kept (they are facts about the product), one ``restarted`` event.

    Also kept: ``sample`` and ``expires_at`` (a demo user stays one) and the applied ``migrations`` (a redelivered
    migration batch must not move the restarted user). The event's ``details`` name the flow and version left
    (``previous_flow_id``, ``previous_flow_version``, ``previous_state``) when there was a progress.
    """
    details: dict[str, JsonValue] = {}
    if progress is not None:
        details = {
            "previous_flow_id": progress.flow_id,
            "previous_flow_version": progress.flow_version,
            "previous_state": progress.state.value,
        }
    fresh = Progress(
        tenant=tenant,
        user=user,
        flow_id=flow.flow_id,
        flow_version=flow.version,
        version=(progress.version if progress is not None else 0) + 1,
        milestones=dict(progress.milestones) if progress is not None else {},
        enrolled_at=now,
        enrolled_version=flow.version,
        updated_at=now,
        sample=progress.sample if progress is not None else False,
        migrations=list(progress.migrations) if progress is not None else [],
        expires_at=progress.expires_at if progress is not None else None,
        # A restarted user counts as returning from now on.
        segment={**progress.segment, "returning": "true"} if progress is not None else {},
        analytics_opt_out=progress.analytics_opt_out if progress is not None else False,
        accepted_policies=dict(progress.accepted_policies) if progress is not None else {},
    )
    return Transition(progress=fresh, events=[_event(fresh, EventType.RESTARTED, now, details=details)])


def status_view(
    progress: Progress, flow: FlowVersion, gate: FlagGate, current_policies: Mapping[str, str] | None = None
) -> OnboardingStatus:
    """The status for GET /v1/onboarding/status.

    ``current_step``: the first visible step in order that is neither completed nor skipped (None when none is
    left or the onboarding is finished). ``percent_complete``: visible steps completed or skipped over visible
    steps, rounded down (100 when the onboarding is completed; 0 when no step is visible and it is not).
    ``tutorial_hints``: hints of visible steps that are not completed or skipped, in order. Every ``Milestone``
    appears in ``milestones``.
    """
    shown, hidden = visible_steps(flow.definition, gate)
    statuses = [_step_status(step, _step_progress(progress, step.id)) for step in shown]
    open_steps = [s for s in statuses if s.state not in _DONE]

    finished = progress.state != OnboardingState.IN_PROGRESS
    current_step = open_steps[0].id if open_steps and not finished else None
    if progress.state == OnboardingState.COMPLETED:
        percent = 100
    elif statuses:
        percent = (len(statuses) - len(open_steps)) * 100 // len(statuses)
    else:
        percent = 0

    return OnboardingStatus(
        flow_id=progress.flow_id,
        flow_name=flow.definition.name,
        flow_version=progress.flow_version,
        state=progress.state,
        current_step=current_step,
        steps=statuses,
        hidden_steps=hidden,
        percent_complete=percent,
        completed=progress.state == OnboardingState.COMPLETED,
        skipped=progress.state == OnboardingState.SKIPPED,
        completed_at=progress.completed_at,
        skipped_at=progress.skipped_at,
        enrolled_at=progress.enrolled_at,
        milestones={
            m: MilestoneStatus(reached=m in progress.milestones, at=progress.milestones.get(m)) for m in Milestone
        },
        tutorial_hints=[TutorialHint(step_id=s.id, hint=s.hint) for s in open_steps if s.hint],
        needs_reconsent=any(progress.accepted_policies.get(k) != v for k, v in (current_policies or {}).items()),
        sample=progress.sample,
        progress_version=progress.version,
    )


# --- version migration ------------------------------------------------------------------------------------


def validate_step_map(source: FlowDefinition, target: FlowDefinition, step_map: Sequence[StepMapOperation]) -> None:
    """Refuse (VAL_STEP_MAP_INVALID, with ``errors[]`` naming each problem) a map that does not fit the versions:
    an operation naming a source step that is not in ``source`` or a target step not in ``target``; a source step
    consumed by two operations; a target step produced by two operations (or produced by an operation and also
    carried over by identity).

    Each ``errors[]`` entry has ``location = body.step_map.<index>`` and a ``type`` of ``unknown_source_step``,
    ``unknown_target_step``, ``source_step_mapped_twice``, ``target_step_produced_twice`` or
    ``target_step_also_carried_over`` (a step of both versions that the map produces but whose source step no
    operation consumes: its own state would be lost; drop or map the source step). A source step absent from
    ``target`` and named by no operation is allowed: it is dropped, as if by ``drop``.
    """
    source_ids = {s.id for s in source.steps}
    target_ids = {s.id for s in target.steps}
    consumed_by: dict[str, int] = {}
    produced_by: dict[str, int] = {}
    problems: list[errors.FieldIssue] = []

    def refuse(index: int, message: str, kind: str) -> None:
        problems.append(errors.FieldIssue(location=f"body.step_map.{index}", message=message, type=kind))

    for index, op in enumerate(step_map):
        for step_id in _consumed(op):
            if step_id not in source_ids:
                refuse(index, f"source step {step_id!r} is not in the source version", "unknown_source_step")
            elif step_id in consumed_by:
                refuse(
                    index,
                    f"source step {step_id!r} is already mapped by operation {consumed_by[step_id]}",
                    "source_step_mapped_twice",
                )
            else:
                consumed_by[step_id] = index
        for step_id in _produced(op):
            if step_id not in target_ids:
                refuse(index, f"target step {step_id!r} is not in the target version", "unknown_target_step")
            elif step_id in produced_by:
                refuse(
                    index,
                    f"target step {step_id!r} is already produced by operation {produced_by[step_id]}",
                    "target_step_produced_twice",
                )
            else:
                produced_by[step_id] = index
    for step_id, index in produced_by.items():
        if step_id in source_ids and step_id not in consumed_by:
            refuse(
                index,
                f"target step {step_id!r} also exists in the source version and no operation maps that source step;"
                " drop it or map it explicitly",
                "target_step_also_carried_over",
            )
    if problems:
        raise errors.DomainError(
            errors.VAL_STEP_MAP_INVALID,
            f"The step map does not fit the two flow versions ({len(problems)} problem(s)).",
            fields=problems,
        )


def migrate_progress(
    progress: Progress,
    source: FlowVersion,
    target: FlowVersion,
    step_map: Sequence[StepMapOperation],
    migration_id: str,
    now: datetime,
) -> Transition:
    """Move one user's progress from ``source`` to ``target`` along the map.

    Idempotent: when ``migration_id`` is already in ``progress.migrations`` the progress is returned unchanged with
    no events. A progress not on ``source`` is refused with BIZ_STEP_TRANSITION_INVALID (callers check first).
    Identity: a step id present in both versions and not named by an operation keeps its state and timestamps.
    rename: the new step takes the old one's state and timestamps. merge: ``any`` takes the most advanced state
    (completed > skipped > started > not_started) with that state's earliest timestamps (each timestamp the
    earliest among the old steps in that state); ``all`` is completed only when every source step is completed or
    skipped (at least one completed), completed at the latest moment one of them was completed or skipped and
    started at the earliest start; every source step skipped makes it skipped (latest skip); some but not all done
    makes it started (at the earliest time any source step was touched). split: each target step copies the source
    step. drop: gone. add: not_started, or completed at ``now`` when the operation says so. Steps of ``target`` not
    reached by any rule start not_started; source steps reached by no rule are dropped. The onboarding state, its
    timestamps, milestones, ``sample`` and ``expires_at`` carry over; ``migrations`` gains ``migration_id``; one
    ``migrated`` event with ``details = {"migration_id", "from_version", "to_version"}``.
    The map is expected to have passed ``validate_step_map``.
    """
    if migration_id in progress.migrations:
        return _unchanged(progress)
    if not _on_version(progress, source):
        raise errors.DomainError(
            errors.BIZ_STEP_TRANSITION_INVALID,
            f"The progress is on {progress.flow_id} version {progress.flow_version}, "
            f"not on {source.flow_id} version {source.version}.",
        )
    updated = _next(
        progress,
        now,
        steps=_migrated_steps(progress, source, target, step_map, now),
        flow_id=target.flow_id,
        flow_version=target.version,
        migrations=[*progress.migrations, migration_id],
    )
    details: dict[str, JsonValue] = {
        "migration_id": migration_id,
        "from_version": source.version,
        "to_version": target.version,
    }
    return Transition(progress=updated, events=[_event(updated, EventType.MIGRATED, now, details=details)])


def preview_user(
    progress: Progress,
    source: FlowVersion,
    target: FlowVersion,
    step_map: Sequence[StepMapOperation],
    migration_id: str | None,
    now: datetime,
) -> UserMigrationPreview:
    """What ``migrate_progress`` would do to one user, classified as a ``UserOutcome``: ``already_migrated``
    (``migration_id`` given and applied), ``not_on_source``, ``finished`` (completed or skipped onboarding),
    ``loses_progress`` (a completed or skipped step is dropped, or merged with ``require = all`` and not carried),
    otherwise ``migrated``. The first that applies wins.

    ``before`` holds every source step's state and ``after`` every target step's state; for a user not migrated
    (already migrated, not on the source) both hold the stored step states. ``dropped_completed_steps`` lists, in
    source order, the completed or skipped source steps whose work reaches no completed or skipped target step
    (dropped explicitly or by absence from the target, or merged with ``require = all`` into a step left open); it
    is filled for finished users too.
    """
    if migration_id is not None and migration_id in progress.migrations:
        return _unmoved_preview(progress, UserOutcome.ALREADY_MIGRATED)
    if not _on_version(progress, source):
        return _unmoved_preview(progress, UserOutcome.NOT_ON_SOURCE)

    after_steps = _migrated_steps(progress, source, target, step_map, now)
    lost = _lost_steps(progress, source, target, step_map, after_steps)
    if progress.state != OnboardingState.IN_PROGRESS:
        outcome = UserOutcome.FINISHED
    elif lost:
        outcome = UserOutcome.LOSES_PROGRESS
    else:
        outcome = UserOutcome.MIGRATED
    return UserMigrationPreview(
        user=progress.user,
        outcome=outcome,
        before={s.id: _step_progress(progress, s.id).state for s in source.definition.steps},
        after={
            s.id: after_steps[s.id].state if s.id in after_steps else StepState.NOT_STARTED
            for s in target.definition.steps
        },
        dropped_completed_steps=lost,
    )


def plan_preview(
    source: FlowVersion,
    target: FlowVersion,
    step_map: Sequence[StepMapOperation],
    progresses: Sequence[Progress],
    *,
    truncated: bool,
    now: datetime,
    sample_size: int = 5,
) -> MigrationPlanPreview:
    """The dry run's answer over the users examined: counts per outcome (every ``UserOutcome`` present, zeros
    included), per operation ``{"operation": <op as JSON>, "users_changed": n}`` where a user counts when the
    operation's source steps were not all not_started, and a sample of up to ``sample_size`` users (the first in
    the order given).

    Only users the migration would move (on the source version) count for an operation; an ``add`` with
    ``state = completed`` changes every one of them, an ``add`` of a not_started step none.
    """
    previews = [preview_user(p, source, target, step_map, None, now) for p in progresses]
    outcomes = dict.fromkeys(UserOutcome, 0)
    for preview in previews:
        outcomes[preview.outcome] += 1

    moved = [p for p, preview in zip(progresses, previews, strict=True) if preview.outcome in _MOVED_OUTCOMES]
    operations: list[dict[str, Any]] = []
    for op in step_map:
        if isinstance(op, AddStep):
            changed = len(moved) if op.state == "completed" else 0
        else:
            changed = sum(
                1
                for p in moved
                if any(_step_progress(p, step_id).state != StepState.NOT_STARTED for step_id in _consumed(op))
            )
        operations.append({"operation": op.model_dump(mode="json"), "users_changed": changed})

    return MigrationPlanPreview(
        flow_id=source.flow_id,
        from_version=source.version,
        to_version=target.version,
        users_examined=len(progresses),
        truncated=truncated,
        outcomes=outcomes,
        operations=operations,
        sample=previews[: max(sample_size, 0)],
    )


# --- helpers ----------------------------------------------------------------------------------------------


def _step_progress(progress: Progress, step_id: str) -> StepProgress:
    return progress.steps.get(step_id) or StepProgress()


def _unchanged(progress: Progress) -> Transition:
    return Transition(progress=progress, events=[])


def _next(progress: Progress, now: datetime, **changes: Any) -> Progress:
    """The progress after one accepted change: the next version, stamped ``now``."""
    return progress.model_copy(update={**changes, "version": progress.version + 1, "updated_at": now}, deep=True)


def _event(
    progress: Progress,
    kind: EventType,
    now: datetime,
    *,
    step_id: str | None = None,
    milestone: Milestone | None = None,
    details: dict[str, JsonValue] | None = None,
) -> TransitionEvent:
    """An event of the change that produced ``progress`` (its version orders the user's events)."""
    return TransitionEvent(
        tenant=progress.tenant,
        user=progress.user,
        type=kind,
        at=now,
        flow_id=progress.flow_id,
        flow_version=progress.flow_version,
        step_id=step_id,
        milestone=milestone,
        progress_version=progress.version,
        sample=progress.sample,
        details=details or {},
        enrolled_at=progress.enrolled_at,
        enrolled_version=progress.enrolled_version,
        segment=dict(progress.segment),
        analytics_opt_out=progress.analytics_opt_out,
    )


def _refuse_when_finished(progress: Progress) -> None:
    if progress.state != OnboardingState.IN_PROGRESS:
        raise errors.DomainError(
            errors.BIZ_ONBOARDING_FINISHED,
            f"The onboarding is already {progress.state.value}; an admin can restart it.",
        )


def _past_tense(action: StepAction) -> str:
    return {StepAction.START: "started", StepAction.COMPLETE: "completed", StepAction.SKIP: "skipped"}[action]


def _moved(current: StepProgress, state: StepState, now: datetime) -> StepProgress:
    """``current`` moved to ``state`` at ``now``; a timestamp already set keeps its first value."""
    started_at = current.started_at
    if state in (StepState.STARTED, StepState.COMPLETED) and started_at is None:
        started_at = now
    return StepProgress(
        state=state,
        started_at=started_at,
        completed_at=current.completed_at or (now if state == StepState.COMPLETED else None),
        skipped_at=current.skipped_at or (now if state == StepState.SKIPPED else None),
    )


def _step_status(step: StepDefinition, where: StepProgress) -> StepStatus:
    return StepStatus(
        id=step.id,
        title=step.title,
        description=step.description,
        kind=step.kind,
        required=step.required,
        order=step.order,
        state=where.state,
        started_at=where.started_at,
        completed_at=where.completed_at,
        skipped_at=where.skipped_at,
        completion_criteria=step.completion_criteria,
        hint=step.hint,
    )


def _on_version(progress: Progress, flow: FlowVersion) -> bool:
    return progress.flow_id == flow.flow_id and progress.flow_version == flow.version


def _consumed(op: StepMapOperation) -> list[str]:
    """The source steps an operation takes state from."""
    if isinstance(op, MergeSteps):
        return list(op.from_steps)
    if isinstance(op, AddStep):
        return []
    return [op.from_step]


def _produced(op: StepMapOperation) -> list[str]:
    """The target steps an operation gives state to."""
    if isinstance(op, SplitStep):
        return list(op.to_steps)
    if isinstance(op, DropStep):
        return []
    return [op.to_step]


def _earliest(moments: Iterable[datetime | None]) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)


def _done_at(part: StepProgress) -> datetime | None:
    return part.completed_at if part.state == StepState.COMPLETED else part.skipped_at


def _merged_any(parts: list[StepProgress]) -> StepProgress:
    best = max((p.state for p in parts), key=_ADVANCEMENT.__getitem__)
    winners = [p for p in parts if p.state == best]
    return StepProgress(
        state=best,
        started_at=_earliest(p.started_at for p in winners),
        completed_at=_earliest(p.completed_at for p in winners),
        skipped_at=_earliest(p.skipped_at for p in winners),
    )


def _merged_all(parts: list[StepProgress]) -> StepProgress:
    if all(p.state in _DONE for p in parts) and any(p.state == StepState.COMPLETED for p in parts):
        completed_at = _latest(_done_at(p) for p in parts)
        return StepProgress(
            state=StepState.COMPLETED,
            started_at=_earliest(p.started_at for p in parts) or completed_at,
            completed_at=completed_at,
        )
    if all(p.state == StepState.SKIPPED for p in parts):
        return StepProgress(
            state=StepState.SKIPPED,
            started_at=_earliest(p.started_at for p in parts),
            skipped_at=_latest(p.skipped_at for p in parts),
        )
    if any(p.state != StepState.NOT_STARTED for p in parts):
        touched = _earliest(m for p in parts for m in (p.started_at, p.completed_at, p.skipped_at))
        return StepProgress(state=StepState.STARTED, started_at=touched)
    return StepProgress()


def _migrated_steps(
    progress: Progress,
    source: FlowVersion,
    target: FlowVersion,
    step_map: Sequence[StepMapOperation],
    now: datetime,
) -> dict[str, StepProgress]:
    """The target version's step progress along the map (only steps that left not_started)."""
    named = {step_id for op in step_map for step_id in (*_consumed(op), *_produced(op))}
    source_ids = {s.id for s in source.definition.steps}
    after: dict[str, StepProgress] = {}
    for step in target.definition.steps:
        if step.id in source_ids and step.id not in named:
            after[step.id] = _step_progress(progress, step.id).model_copy()
    for op in step_map:
        if isinstance(op, RenameStep):
            after[op.to_step] = _step_progress(progress, op.from_step).model_copy()
        elif isinstance(op, MergeSteps):
            parts = [_step_progress(progress, step_id) for step_id in op.from_steps]
            after[op.to_step] = _merged_any(parts) if op.require == "any" else _merged_all(parts)
        elif isinstance(op, SplitStep):
            for step_id in op.to_steps:
                after[step_id] = _step_progress(progress, op.from_step).model_copy()
        elif isinstance(op, AddStep) and op.state == "completed":
            after[op.to_step] = StepProgress(state=StepState.COMPLETED, started_at=now, completed_at=now)
    target_ids = {s.id for s in target.definition.steps}
    return {
        step_id: where
        for step_id, where in after.items()
        if step_id in target_ids and where.state != StepState.NOT_STARTED
    }


def _lost_steps(
    progress: Progress,
    source: FlowVersion,
    target: FlowVersion,
    step_map: Sequence[StepMapOperation],
    after: dict[str, StepProgress],
) -> list[str]:
    """Completed or skipped source steps whose work reaches no completed or skipped target step."""
    reaches: dict[str, list[str]] = {}
    for op in step_map:
        for step_id in _consumed(op):
            reaches.setdefault(step_id, _produced(op))
    produced = {step_id for op in step_map for step_id in _produced(op)}
    target_ids = {s.id for s in target.definition.steps}
    lost: list[str] = []
    for step in source.definition.steps:
        if _step_progress(progress, step.id).state not in _DONE:
            continue
        if step.id in reaches:
            images = reaches[step.id]
        elif step.id in target_ids and step.id not in produced:
            images = [step.id]
        else:
            images = []
        if not any(image in after and after[image].state in _DONE for image in images):
            lost.append(step.id)
    return lost


def _unmoved_preview(progress: Progress, outcome: UserOutcome) -> UserMigrationPreview:
    states = {step_id: where.state for step_id, where in progress.steps.items()}
    return UserMigrationPreview(user=progress.user, outcome=outcome, before=states, after=dict(states))
