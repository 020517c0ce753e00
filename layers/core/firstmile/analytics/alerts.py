"""Drop-off alert rules and how one is judged against a flow's funnel (decision 0070, "Drop-off alerts"). Pure: the
hourly check reads the two windows' funnels and hands them here.

- ``conversion_below``: the conversion into a step (its completions over the users who entered), or the overall
  conversion without a step, is under ``threshold`` percent over the last ``window_days`` days of enrolment;
- ``conversion_drop``: it fell by more than ``threshold`` points against the ``window_days`` days before.

A window with fewer than ``min_sessions`` users says nothing: the rule is neither firing nor resolved by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from firstmile.analytics.funnel import FunnelView
from firstmile.model import Model
from firstmile.onboarding.models import FlowId, StepId

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"
RuleKind = Literal["conversion_below", "conversion_drop"]


class AlertRuleDefinition(Model):
    """What an admin writes: the flow, what to watch, and when it fires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow_id: FlowId
    kind: RuleKind
    step_id: StepId | None = Field(default=None, description="The step whose conversion is watched; none: overall")
    threshold: Annotated[
        float, Field(gt=0, le=100, description="Percent (conversion_below) or points (conversion_drop)")
    ]
    window_days: Annotated[int, Field(ge=1, le=30)] = 7
    min_sessions: Annotated[int, Field(ge=1, le=1_000_000, description="Fewer users in a window: no verdict")] = 20
    enabled: bool = True
    description: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _a_drop_needs_room(self) -> AlertRuleDefinition:
        if self.kind == "conversion_drop" and self.threshold >= 100:
            raise ValueError("a conversion cannot fall by 100 points or more")
        return self


@dataclass(frozen=True)
class Verdict:
    """A rule's judgement of its windows: ``firing`` is None when a window had too few users to tell."""

    firing: bool | None
    value: float | None
    baseline: float | None
    sessions: int
    message: str


def conversion(view: FunnelView, step_id: str | None) -> float | None:
    """The conversion a rule watches, in percent: into ``step_id`` from the start, or overall."""
    if step_id is None:
        rate = view.overall_conversion_rate
    else:
        rate = next((s.conversion_from_start for s in view.stages if s.step_id == step_id), None)
    return None if rate is None else round(rate * 100, 2)


def judge(rule: AlertRuleDefinition, current: FunnelView, previous: FunnelView) -> Verdict:
    """The rule against the last window (``current``) and, for a drop, the window before it (``previous``)."""
    watched = f"conversion into {rule.step_id}" if rule.step_id else "overall conversion"
    value, baseline = conversion(current, rule.step_id), conversion(previous, rule.step_id)
    if current.total_sessions < rule.min_sessions or value is None:
        return Verdict(None, value, baseline, current.total_sessions, f"fewer than {rule.min_sessions} users entered")
    if rule.kind == "conversion_below":
        firing = value < rule.threshold
        comparison = "under" if firing else "at or over"
        return Verdict(
            firing, value, None, current.total_sessions, f"{watched} is {value:g} %, {comparison} {rule.threshold:g} %"
        )
    if previous.total_sessions < rule.min_sessions or baseline is None:
        return Verdict(
            None, value, baseline, current.total_sessions, f"fewer than {rule.min_sessions} users in the window before"
        )
    change = round(value - baseline, 2)
    firing = -change > rule.threshold
    return Verdict(
        firing,
        value,
        baseline,
        current.total_sessions,
        f"{watched} went from {baseline:g} % to {value:g} % ({change:+g} points; the rule allows -{rule.threshold:g})",
    )
