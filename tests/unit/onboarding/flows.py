"""Test data for the onboarding logic: flow versions, progress in a given state, flag gates and moments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from firstmile.onboarding.logic import FlagGate, enrol
from firstmile.onboarding.models import (
    CompletionCriteria,
    FlowDefinition,
    FlowVersion,
    Milestone,
    OnboardingState,
    Progress,
    StepDefinition,
    StepProgress,
    StepState,
)

NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
TENANT = "t-acme"
USER = "u-alice"


def at(minutes: float) -> datetime:
    """A moment ``minutes`` after NOW."""
    return NOW + timedelta(minutes=minutes)


def step(
    step_id: str,
    order: int,
    *,
    required: bool = True,
    flag: str | None = None,
    milestone: Milestone | None = None,
    hint: str | None = None,
) -> StepDefinition:
    return StepDefinition(
        id=step_id,
        title=step_id.replace("_", " ").capitalize(),
        order=order,
        required=required,
        gating_flag=flag,
        completion_criteria=CompletionCriteria(milestone=milestone) if milestone else None,
        hint=hint,
    )


def flow(
    *steps: StepDefinition,
    version: int = 1,
    flow_id: str = "getting-started",
    allow_out_of_order: bool = True,
    name: str = "Getting started",
) -> FlowVersion:
    return FlowVersion(
        flow_id=flow_id,
        version=version,
        definition=FlowDefinition(name=name, steps=list(steps), allow_out_of_order=allow_out_of_order),
        published_at=NOW - timedelta(days=1),
        published_by="u-admin",
    )


def simple_flow(*, allow_out_of_order: bool = True) -> FlowVersion:
    """connect (required), invite (optional), configure (required), in that order."""
    return flow(
        step("connect", 10, hint="Paste your API key"),
        step("invite", 20, required=False, hint="Bring a teammate"),
        step("configure", 30),
        allow_out_of_order=allow_out_of_order,
    )


def enrolled(version: FlowVersion, *, when: datetime = NOW) -> Progress:
    return enrol(TENANT, USER, version, when).progress


def done(state: StepState, minutes: float = 0) -> StepProgress:
    """A step in ``state`` with the timestamps the state machine would have given it ``minutes`` after NOW."""
    moment = at(minutes)
    return StepProgress(
        state=state,
        started_at=moment if state in (StepState.STARTED, StepState.COMPLETED) else None,
        completed_at=moment if state is StepState.COMPLETED else None,
        skipped_at=moment if state is StepState.SKIPPED else None,
    )


def progress_with(
    on: FlowVersion,
    steps: Mapping[str, StepState | StepProgress],
    /,
    *,
    state: OnboardingState = OnboardingState.IN_PROGRESS,
    **fields: Any,
) -> Progress:
    """A stored progress on flow version ``on`` (at progress version 3 unless told) with these step states."""
    return Progress(
        tenant=TENANT,
        user=fields.pop("user", USER),
        flow_id=on.flow_id,
        flow_version=on.version,
        version=fields.pop("version", 3),
        state=state,
        steps={
            step_id: where if isinstance(where, StepProgress) else done(where)
            for step_id, where in steps.items()
            if (where.state if isinstance(where, StepProgress) else where) is not StepState.NOT_STARTED
        },
        enrolled_at=NOW,
        updated_at=NOW,
        **fields,
    )


def gate(**flags: bool | None) -> FlagGate:
    """A flag gate answering from ``flags`` (keys with ``_`` for ``-``); unknown flags are off."""

    def answer(flag_key: str) -> bool | None:
        return flags.get(flag_key.replace("-", "_"), False)

    return answer


def always_on(_flag_key: str) -> bool | None:
    return True
