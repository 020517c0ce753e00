"""The shapes the flag routes take and answer: kill-switch changes, the tenant's flag settings, evaluation requests
and answers, rollbacks, and exposure counts. The flag itself, its segments and its history are in ``models`` and
``history``; rollout plans in ``rollout``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from firstmile.flags.cache import KILL_SWITCH_BOUND_SECONDS
from firstmile.flags.models import (
    MAX_CLIENT_ATTRIBUTES,
    AttributeName,
    EvaluationResult,
    Flag,
    FlagKey,
    Tag,
)
from firstmile.model import Model

MAX_EVALUATE_FLAGS = 100
MAX_CLIENT_ATTRIBUTE_VALUE = 256

# --- the kill switch ---------------------------------------------------------------------------------------


class KillSwitchChange(Model):
    """Kill (or revive) one flag, every flag carrying a tag, or every flag of the tenant: exactly one of ``flag``,
    ``tag`` and ``all``. A kill takes effect everywhere within 5 seconds; reviving undoes that kill only (a flag
    killed by key stays killed when its tag is revived)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flag: FlagKey | None = None
    tag: Tag | None = None
    all: bool | None = Field(default=None, description="true: the whole tenant")
    killed: bool = Field(default=True, description="false revives what this change names")
    reason: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _exactly_one(self) -> KillSwitchChange:
        named = [self.flag is not None, self.tag is not None, self.all is True]
        if sum(named) != 1:
            raise ValueError("name exactly one of flag, tag, or all: true")
        return self

    @property
    def target(self) -> str:
        if self.flag is not None:
            return f"flag:{self.flag}"
        if self.tag is not None:
            return f"tag:{self.tag}"
        return "all"

    def logged(self, actor: str, at: datetime, concerned: Iterable[str]) -> KillSwitchEvent:
        """This change as the kill-switch log keeps it: made by ``actor`` at ``at``, naming the ``concerned`` flags."""
        return KillSwitchEvent(
            target=self.target,
            killed=self.killed,
            reason=self.reason,
            changed_by=actor,
            changed_at=at,
            flags=sorted(concerned),
        )


class KillSwitchEvent(Model):
    """One change of the kill switch: what it killed or revived, who made it, when and why, and the flags it named
    when it was made (the flag itself, every flag then carrying the tag, or every flag of the tenant)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str = Field(description="flag:<key>, tag:<tag> or all")
    killed: bool = Field(description="true: a kill; false: a revival")
    reason: str = ""
    changed_by: str
    changed_at: datetime
    flags: list[FlagKey] = Field(default_factory=list, description="The flags the change concerned when it was made")


class FlagKillSwitch(Model):
    """Whether the kill switch holds a flag off now, through which targets, and the last change that concerned it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    killed: bool = False
    killed_by: list[str] = Field(
        default_factory=list, description="The targets in force that kill the flag: flag:<key>, tag:<tag>, all"
    )
    last_change: KillSwitchEvent | None = Field(
        default=None, description="The newest kill or revival that concerned the flag (in a single flag's answer)"
    )


class FlagView(Flag):
    """A flag as the admin routes answer it: as stored, plus whether the kill switch holds it off now."""

    kill_switch: FlagKillSwitch = Field(default_factory=FlagKillSwitch)


class KillSwitchState(Model):
    """What is killed in the tenant now."""

    all: bool = False
    flags: list[FlagKey] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    updated_at: datetime | None = None
    updated_by: str | None = None
    effective_within_seconds: float = Field(
        default=KILL_SWITCH_BOUND_SECONDS,
        description="Every evaluation serves killed flags' off values within this many seconds of a change",
    )


# --- evaluation --------------------------------------------------------------------------------------------


ClientAttributeValue = (
    Annotated[str, Field(max_length=MAX_CLIENT_ATTRIBUTE_VALUE)]
    | int
    | float
    | bool
    | Annotated[list[Annotated[str, Field(max_length=MAX_CLIENT_ATTRIBUTE_VALUE)]], Field(max_length=50)]
)


class EvaluationRequest(Model):
    """Which flags to evaluate for the caller (default: every flag that is not archived), and the client-supplied
    attributes the tenant allows (``FlagSettings.client_attributes``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flags: Annotated[list[FlagKey] | None, Field(max_length=MAX_EVALUATE_FLAGS)] = None
    attributes: Annotated[dict[AttributeName, ClientAttributeValue], Field(max_length=MAX_CLIENT_ATTRIBUTES)] = Field(
        default_factory=dict
    )


class EvaluationAnswer(Model):
    """The results for one user, keyed by flag key, and the flag-set version they were computed from."""

    flags: dict[str, EvaluationResult]
    flag_set_version: int = Field(description="The tenant's flag-set version the results come from")
    freshness: str = Field(description="fresh, stale (the store was unreachable; last good set) or expired")


# --- rollback ----------------------------------------------------------------------------------------------


class RollbackRequest(Model):
    """Make a flag as it was at ``version`` again; the result is a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Annotated[int, Field(ge=1)]


# --- exposures ---------------------------------------------------------------------------------------------


class ExposureCount(Model):
    """Evaluations of one flag that served one variant on one day (UTC), as sampled and as estimated."""

    day: date
    variant: str
    sampled: int = Field(description="Exposure events received")
    estimated: float = Field(description="Evaluations estimated from the samples (each weighs 1 / its sample rate)")


class ExposureReport(Model):
    flag_key: FlagKey
    counts: list[ExposureCount]
