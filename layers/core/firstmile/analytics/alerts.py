"""Drop-off alert rules and how one is judged against a flow's funnel (decision 0070, "Drop-off alerts"). Pure: the
hourly check reads the two windows' funnels and hands them here.

- ``conversion_below``: the conversion into a step (its completions over the users who entered), or the overall
  conversion without a step, is under ``threshold`` percent over the last ``window_days`` days of enrolment;
- ``conversion_drop``: it fell by more than ``threshold`` points against the ``window_days`` days before.

A window with fewer than ``min_sessions`` users says nothing: the rule is neither firing nor resolved by it.

A window is whole UTC days of enrolment ending ``lag_days`` before today, so that the users counted had time to get
through the flow; the window before it is as long and ends the day before it starts.

What an admin manages is an ``AlertRule`` (a definition with its id, version and archived mark), versioned as flags
are; a rule's ``AlertStatus`` is what the hourly check last found; an ``AlertRecord`` is written each time a rule
starts or stops firing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from firstmile.analytics.funnel import FunnelView
from firstmile.analytics.shapes import Period
from firstmile.model import FieldChange, Model
from firstmile.onboarding.models import FlowId, StepId
from firstmile.platform.cursors import Page

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"
RuleKind = Literal["conversion_below", "conversion_drop"]
RuleId = Annotated[str, Field(pattern=RULE_ID_PATTERN, description="The rule's id, chosen by the tenant")]
# ``unknown``: not checked yet, too few users to tell, or not checked because the rule is off or archived.
AlertState = Literal["unknown", "ok", "firing"]


class AlertRuleDefinition(Model):
    """What an admin writes: the flow, what to watch, and when it fires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow_id: FlowId
    kind: RuleKind
    step_id: StepId | None = Field(default=None, description="The step whose conversion is watched; none: overall")
    threshold: Annotated[
        float, Field(gt=0, le=100, description="Percent (conversion_below) or points (conversion_drop)")
    ]
    window_days: Annotated[int, Field(ge=1, le=30, description="Days of enrolment in each window")] = 7
    lag_days: Annotated[
        int, Field(ge=0, le=30, description="The newest days of enrolment left out, so users have time to finish")
    ] = 1
    min_sessions: Annotated[int, Field(ge=1, le=1_000_000, description="Fewer users in a window: no verdict")] = 20
    enabled: bool = True
    description: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _a_drop_needs_room(self) -> AlertRuleDefinition:
        if self.kind == "conversion_drop" and self.threshold >= 100:
            raise ValueError("a conversion cannot fall by 100 points or more")
        return self


class AlertRule(AlertRuleDefinition):
    """A rule as stored: its id, its version (every change makes the next) and whether it is archived. ``version``
    in a body names the version a change was made on when no ``If-Match`` is sent."""

    rule_id: RuleId
    version: Annotated[int, Field(ge=1)] = 1
    archived: bool = Field(default=False, description="Archived rules are never checked; DELETE archives")

    @property
    def checked(self) -> bool:
        """Whether the hourly check judges the rule."""
        return self.enabled and not self.archived


class AlertStatus(Model):
    """What the hourly check last found for a rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: AlertState = "unknown"
    since: datetime | None = Field(default=None, description="When the rule entered this state")
    checked_at: datetime | None = Field(default=None, description="The last check (null: never checked)")
    value: float | None = Field(default=None, description="The watched conversion in the last window, percent")
    baseline: float | None = Field(default=None, description="The same in the window before, percent")
    sessions: int = Field(default=0, description="Users who entered in the last window")
    message: str = ""


class AlertRuleView(AlertRule):
    """A rule with what its last check found, so a console draws it without a second call."""

    status: AlertStatus


class AlertRulePage(Page[AlertRuleView]):
    """One page of the tenant's rules, in id order, and how many of all its rules are firing now."""

    firing: int = Field(description="Rules of the tenant (all pages) that are firing now")


class AlertRuleHistoryEntry(Model):
    """One version of a rule: the rule as it was, who made it, when, and its changes from the one before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: RuleId
    version: Annotated[int, Field(ge=1)]
    rule: AlertRule
    changed_by: Annotated[str, Field(min_length=1, max_length=200)]
    changed_at: datetime
    diff: list[FieldChange] = Field(default_factory=list)


class AlertRecord(Model):
    """A rule that started (``firing``) or stopped (``resolved``) firing, with the figures that decided it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str = Field(description="Unique within the tenant; the newest sort first")
    rule_id: RuleId
    rule_version: int
    flow_id: FlowId
    step_id: StepId | None = None
    kind: RuleKind
    threshold: float
    state: Literal["firing", "resolved"]
    at: datetime
    value: float | None = None
    baseline: float | None = None
    sessions: int
    message: str
    window: Period
    previous_window: Period


class AlertsPage(Page[AlertRecord]):
    """One page of the tenant's alerts, newest first, and the rules firing now (all of them, not only this page's)."""

    firing_rules: list[str] = Field(description="The ids of the tenant's rules that are firing now")


@dataclass(frozen=True)
class Windows:
    """The two windows a rule reads: the last (``current``) and the one before it (``previous``)."""

    current: Period
    previous: Period


def windows_of(rule: AlertRuleDefinition, today: date) -> Windows:
    """The windows of ``rule`` on ``today``: ``window_days`` whole days ending ``lag_days`` before today, and as many
    days before them."""
    end = today - timedelta(days=rule.lag_days)
    start = end - timedelta(days=rule.window_days - 1)
    before_end = start - timedelta(days=1)
    before_start = before_end - timedelta(days=rule.window_days - 1)
    days = rule.window_days
    return Windows(Period(start=start, end=end, days=days), Period(start=before_start, end=before_end, days=days))


def next_state(current: AlertState, verdict: Verdict) -> AlertState:
    """The state after ``verdict``: too few users to tell keeps the state a checked rule had (a firing rule stays
    firing until a window judges it fine)."""
    if verdict.firing is None:
        return current
    return "firing" if verdict.firing else "ok"


def record_state(before: AlertState, after: AlertState) -> Literal["firing", "resolved"] | None:
    """The record a change of state writes: ``firing`` when a rule starts firing, ``resolved`` when it stops."""
    if after == "firing" and before != "firing":
        return "firing"
    if before == "firing" and after != "firing":
        return "resolved"
    return None


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
