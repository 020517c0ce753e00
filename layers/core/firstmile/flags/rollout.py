"""Progressive rollouts: a plan raises one rule's percentage step by step, each step held for a minimum dwell, and a
guard halts the plan and rolls the percentage back when the users in the rollout do worse than those out of it.

Pure decisions, no I/O: ``decide`` says what the scheduled job does with an active plan at a moment, given the
flag as stored and, when the plan has a guard, a ``GuardReading``. ``conversion_reading`` computes that reading
from onboarding progress. Decision 0063 records the choices.

The guard's arms: a user is *in* when their rollout bucket for the flag (``logic.bucket`` over the flag's salt and
the user id) is below the rule's current threshold, *out* otherwise. Bucketing does not depend on attributes, so
users the rule's conditions do not match fall into both arms alike and only dilute the difference; the comparison
stays fair. Only users who enrolled in the guarded flow while the current step held are counted (the service reads
them from the time-ordered users-per-version index), so earlier users' completions, and users who enrolled under a
smaller percentage, do not mask a regression.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import ConfigDict, Field, field_validator, model_validator

from firstmile.flags import logic
from firstmile.flags.models import RULE_ID_PATTERN, Flag, FlagKey, Rule, checked_percentage, percentage_threshold
from firstmile.identifiers import FLOW_ID_PATTERN
from firstmile.model import Model

MAX_STEPS = 20
MAX_DWELL_MINUTES = 30 * 24 * 60
MAX_GUARD_USERS = 5_000


class Participant(Protocol):
    """What the guard reads of one user of the guarded flow (onboarding's progress has this shape)."""

    @property
    def user(self) -> str: ...
    @property
    def sample(self) -> bool: ...
    @property
    def enrolled_at(self) -> datetime: ...
    @property
    def completed_at(self) -> datetime | None: ...


class RolloutStep(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    percentage: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
    min_dwell_minutes: Annotated[int, Field(ge=0, le=MAX_DWELL_MINUTES)] = 60

    @field_validator("percentage")
    @classmethod
    def _resolution(cls, percentage: float) -> float:
        return checked_percentage(percentage)


class ConversionGuard(Model):
    """Halt when the onboarding completion rate of the users in the rollout falls more than ``max_drop_points``
    percentage points below that of the users out of it, once each arm has ``min_users_per_arm`` users."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Literal["onboarding_conversion"] = "onboarding_conversion"
    flow_id: Annotated[str, Field(pattern=FLOW_ID_PATTERN)]
    max_drop_points: Annotated[float, Field(gt=0, le=100)] = 5.0
    min_users_per_arm: Annotated[int, Field(ge=1, le=MAX_GUARD_USERS)] = 30
    max_users: Annotated[int, Field(ge=10, le=MAX_GUARD_USERS, description="Users read per check, at most")] = 2_000


class RolloutPlanRequest(Model):
    """A plan for one rule of a flag: its percentages in increasing order, each held at least its dwell."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: Annotated[str, Field(pattern=RULE_ID_PATTERN)]
    steps: Annotated[list[RolloutStep], Field(min_length=1, max_length=MAX_STEPS)]
    guard: ConversionGuard | None = None

    @model_validator(mode="after")
    def _increasing(self) -> RolloutPlanRequest:
        percentages = [step.percentage for step in self.steps]
        if any(b <= a for a, b in zip(percentages, percentages[1:], strict=False)):
            raise ValueError("step percentages must increase")
        return self


class RolloutStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    HALTED = "halted"
    CANCELLED = "cancelled"


class GuardReading(Model):
    """The guard's last measurement."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    users_in: int
    users_out: int
    converted_in: int
    converted_out: int
    # Completion rates in percent; None when the arm is empty.
    rate_in: float | None
    rate_out: float | None
    sufficient: bool = Field(description="Both arms reached min_users_per_arm")
    breached: bool


class RolloutPlan(RolloutPlanRequest):
    """A plan as stored: where it stands."""

    flag_key: FlagKey
    status: RolloutStatus = RolloutStatus.ACTIVE
    step_index: int = 0
    started_at: datetime
    step_started_at: datetime
    updated_at: datetime
    # The rule's percentage before the plan began: what a halt restores.
    initial_percentage: float
    last_reading: GuardReading | None = None
    ended_reason: str | None = None
    version: Annotated[int, Field(ge=1)] = 1

    @property
    def current_step(self) -> RolloutStep:
        return self.steps[self.step_index]


class Action(StrEnum):
    WAIT = "wait"
    ADVANCE = "advance"
    COMPLETE = "complete"
    HALT = "halt"
    # The flag or its rule is gone, or the rule's percentage was changed outside the plan: the plan ends without
    # touching the flag.
    ABANDON = "abandon"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    # The rule's percentage after the action (ADVANCE: the next step; HALT: the initial percentage).
    percentage: float | None = None


def plan_rule(flag: Flag | None, rule_id: str) -> Rule | None:
    if flag is None or flag.archived:
        return None
    return next((rule for rule in flag.rules if rule.id == rule_id), None)


def decide(plan: RolloutPlan, flag: Flag | None, reading: GuardReading | None, now: datetime) -> Decision:
    """What to do with an active plan at ``now``. The guard is read at every check, dwell or not: a breach halts the
    plan at once. Otherwise the plan moves on when the current step has been held for its dwell. A rule whose
    percentage is no longer the current step's was changed by someone else (an edit, a rollback): the plan is
    abandoned rather than overwrite that choice at its next step."""
    rule = plan_rule(flag, plan.rule_id)
    if rule is None:
        return Decision(Action.ABANDON, f"flag {plan.flag_key} has no rule {plan.rule_id} any more (or is archived)")
    if rule.threshold != percentage_threshold(plan.current_step.percentage):
        # Someone set the percentage outside the plan (an edit, a rollback): their choice stands, the plan ends.
        return Decision(
            Action.ABANDON,
            f"rule {plan.rule_id} was set to {rule.percentage:g}% outside the plan "
            f"(step {plan.step_index + 1} is {plan.current_step.percentage:g}%)",
        )
    if reading is not None and reading.breached:
        return Decision(
            Action.HALT,
            f"onboarding conversion in the rollout {reading.rate_in:.1f}% against {reading.rate_out:.1f}% out of it",
            plan.initial_percentage,
        )
    if now - plan.step_started_at < timedelta(minutes=plan.current_step.min_dwell_minutes):
        return Decision(Action.WAIT, "the step's dwell has not passed")
    if plan.step_index + 1 < len(plan.steps):
        following = plan.steps[plan.step_index + 1].percentage
        return Decision(Action.ADVANCE, f"step {plan.step_index + 1} held for its dwell", following)
    return Decision(Action.COMPLETE, "the last step held for its dwell")


def with_percentage(flag: Flag, rule_id: str, percentage: float) -> Flag:
    """``flag`` with the percentage of rule ``rule_id`` changed (the other rules as they are)."""
    rules = [rule.model_copy(update={"percentage": percentage}) if rule.id == rule_id else rule for rule in flag.rules]
    return Flag.model_validate({**flag.model_dump(), "rules": [r.model_dump() for r in rules]})


def conversion_reading(
    guard: ConversionGuard,
    flag: Flag,
    rule: Rule,
    users: Iterable[Participant],
    since: datetime,
    now: datetime,
) -> GuardReading:
    """Compare the completion rate of users in the rollout of ``rule`` with that of users out of it, among the users
    of the guarded flow who enrolled at or after ``since``."""
    counts = {True: [0, 0], False: [0, 0]}
    for user in users:
        if user.sample or user.enrolled_at < since:
            continue
        arm = counts[logic.bucket(flag.salt, user.user) < rule.threshold]
        arm[0] += 1
        arm[1] += user.completed_at is not None
    (users_in, converted_in), (users_out, converted_out) = counts[True], counts[False]
    rate_in = 100.0 * converted_in / users_in if users_in else None
    rate_out = 100.0 * converted_out / users_out if users_out else None
    sufficient = users_in >= guard.min_users_per_arm and users_out >= guard.min_users_per_arm
    breached = (
        sufficient and rate_in is not None and rate_out is not None and rate_out - rate_in > guard.max_drop_points
    )
    return GuardReading(
        at=now,
        users_in=users_in,
        users_out=users_out,
        converted_in=converted_in,
        converted_out=converted_out,
        rate_in=rate_in,
        rate_out=rate_out,
        sufficient=sufficient,
        breached=breached,
    )
