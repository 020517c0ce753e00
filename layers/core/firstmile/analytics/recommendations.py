"""Recommendations from a funnel's own numbers: where users are lost, which steps they skip and which take long
(decision 0070). Rule-based and explained: each says which step, why (the figures it rests on), what to try, and an
estimated impact computed from the figures, as a range of overall conversion points.

Impact of a drop-off: if a quarter to a half of the users lost at the step went on, and then completed the onboarding
as often as those who passed the step did, overall conversion would rise by that many points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from firstmile.analytics.funnel import FunnelView, Stage

Priority = Literal["high", "medium", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "medium", "low")
# A step skipped by at least this share of the users who passed it is worth a look.
SKIP_SHARE = 0.30
# A step whose median time to reach grows by at least this much over the step before is slow.
SLOW_STEP_SECONDS = 86_400.0
RECOVERED = (0.25, 0.50)
# A drop-off's recommendation by its severity (low drop-offs get none).
_PRIORITY_OF: dict[str, Priority] = {"critical": "high", "high": "medium", "medium": "low"}


@dataclass(frozen=True)
class Recommendation:
    type: Literal["drop_off", "skipped_step", "slow_step"]
    priority: Priority
    title: str
    step_id: str
    why: str
    suggested_actions: tuple[str, ...]
    estimated_impact: str | None


def _points(value: float) -> str:
    return f"{value * 100:.1f}"


def _completion_after(view: FunnelView, step: Stage) -> float:
    """How often the users who passed ``step`` completed the onboarding (1 when nobody passed it)."""
    passed = step.count + step.skipped
    return min(view.completed / passed, 1.0) if passed else 1.0


def recommendations(view: FunnelView, *, priority: Priority | None = None) -> list[Recommendation]:
    """Every recommendation the funnel supports, highest priority first (only ``priority`` when given)."""
    made: list[Recommendation] = []
    stages = {s.step_id: s for s in view.stages}
    for drop in view.top_drop_off_points:
        if drop.severity not in _PRIORITY_OF:
            continue
        rate_after = _completion_after(view, stages[drop.step_id])
        low, high = (drop.share * share * rate_after for share in RECOVERED)
        made.append(
            Recommendation(
                type="drop_off",
                priority=_PRIORITY_OF[drop.severity],
                title=f"Reduce the drop-off at {drop.step_id}",
                step_id=drop.step_id,
                why=(
                    f"{drop.lost} of {view.total_sessions} users ({_points(drop.share)} %) stopped at "
                    f"{drop.step_id} after passing the step before ({drop.severity})."
                ),
                suggested_actions=(
                    "Shorten the step or split it in two",
                    "Make it optional if activation does not need it",
                    "Add a hint, an example or sample data at this step",
                ),
                estimated_impact=f"+{_points(low)} to +{_points(high)} points of overall conversion",
            )
        )
    for stage in view.stages:
        passed = stage.count + stage.skipped
        if passed and stage.skipped / passed >= SKIP_SHARE:
            made.append(
                Recommendation(
                    type="skipped_step",
                    priority="medium",
                    title=f"Revisit {stage.step_id}: many users skip it",
                    step_id=stage.step_id,
                    why=f"{stage.skipped} of the {passed} users who passed {stage.step_id} skipped it.",
                    suggested_actions=(
                        "Explain what the step gives the user",
                        "Move it later, after the user has seen value",
                        "Drop it from the flow if skipping it changes nothing",
                    ),
                    estimated_impact=None,
                )
            )
    previous = 0.0
    for stage in view.stages:
        median = stage.median_seconds_to_reach
        if median is None:
            continue
        if median - previous >= SLOW_STEP_SECONDS:
            made.append(
                Recommendation(
                    type="slow_step",
                    priority="low",
                    title=f"Speed up {stage.step_id}",
                    step_id=stage.step_id,
                    why=(
                        f"Half the users who completed {stage.step_id} needed {median / 3600:.1f} h from enrolment, "
                        f"{(median - previous) / 3600:.1f} h more than for the step before."
                    ),
                    suggested_actions=(
                        "Send a reminder when the step is left unfinished",
                        "Prefill what the step asks for",
                    ),
                    estimated_impact=None,
                )
            )
        previous = median
    made.sort(key=lambda r: PRIORITIES.index(r.priority))
    return [r for r in made if priority is None or r.priority == priority]
