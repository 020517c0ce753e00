"""A funnel from added-up counters: stages in the flow's order, conversions, times to reach each step and where users
stop (decision 0070). Pure: the counts come from ``counting.add_up`` over a Query of day items.

The counts are of the users who entered on the days read (day items are kept by enrolment day), so every rate is a
proportion of one group:

- a stage's ``count`` is its completions; users *pass* a step by completing or skipping it;
- ``conversion_from_start`` is the stage's completions over the users who entered (``total_sessions``);
- ``conversion_from_previous`` is its completions over the users who passed the step before (over the users who
  entered, for the first step); with steps taken out of order it can exceed 1, and it is reported as it is;
- the users lost at a step are those who passed the step before and not this one; its severity comes from their
  share of the users who entered (``SEVERITY``).

Optional steps (and steps a flag may hide) are not taken by everybody: nobody is lost at them, and "the step
before" of the next step is the last step everybody takes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from firstmile.analytics.counting import FLOW, Counts, durations

# A drop-off's severity by the share of entrants lost at the step: at least this share, this severity; else "low".
SEVERITY = ((0.25, "critical"), (0.10, "high"), (0.05, "medium"))
TOP_DROP_OFFS = 5


@dataclass(frozen=True)
class Stage:
    step_id: str
    count: int
    entered: int
    skipped: int
    errors: int
    dropped: int
    conversion_from_previous: float | None
    conversion_from_start: float | None
    median_seconds_to_reach: float | None
    average_seconds_to_reach: float | None


@dataclass(frozen=True)
class DropOff:
    step_id: str
    lost: int
    share: float
    severity: str


@dataclass(frozen=True)
class FunnelView:
    total_sessions: int
    completed: int
    skipped: int
    # Users the idle job counts dropped (at a step, or with every step done), less those who came back.
    dropped: int
    overall_conversion_rate: float | None
    median_seconds_to_complete: float | None
    average_seconds_to_complete: float | None
    stages: list[Stage]
    top_drop_off_points: list[DropOff]
    # Users lost at each step that lost any (the top ones are ``top_drop_off_points``).
    lost_at: dict[str, int]


def severity_of(share: float) -> str:
    return next((name for floor, name in SEVERITY if share >= floor), "low")


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _seconds(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def funnel(steps: Sequence[str], counts: Counts, *, optional: Collection[str] = ()) -> FunnelView:
    """The funnel of a flow version whose steps, in order, are ``steps``; ``optional`` names those not everybody
    takes (optional or flag-gated)."""
    total = int(counts.of(FLOW, "enrolled"))
    stages: list[Stage] = []
    drop_offs: list[DropOff] = []
    passed_before = total
    for step in steps:
        mine = counts.by_target.get(step, {})
        completed, skipped = int(mine.get("completed", 0)), int(mine.get("skipped", 0))
        reached = durations(mine)
        stages.append(
            Stage(
                step_id=step,
                count=completed,
                entered=int(mine.get("entered", 0)),
                skipped=skipped,
                errors=int(mine.get("errors", 0)),
                dropped=int(mine.get("dropped", 0)),
                conversion_from_previous=_rate(completed, passed_before),
                conversion_from_start=_rate(completed, total),
                median_seconds_to_reach=_seconds(reached.quantile(0.5)),
                average_seconds_to_reach=_seconds(reached.average()),
            )
        )
        if step in optional:
            continue
        passed = completed + skipped
        lost = max(passed_before - passed, 0)
        if lost and total:
            drop_offs.append(DropOff(step, lost, round(lost / total, 4), severity_of(lost / total)))
        passed_before = passed
    flow = counts.by_target.get(FLOW, {})
    finished = durations(flow)
    top = sorted(drop_offs, key=lambda d: -d.lost)[:TOP_DROP_OFFS]
    return FunnelView(
        total_sessions=total,
        completed=int(flow.get("completed", 0)),
        skipped=int(flow.get("skipped", 0)),
        dropped=int(sum(target.get("dropped", 0) for target in counts.by_target.values())),
        overall_conversion_rate=_rate(flow.get("completed", 0), total),
        median_seconds_to_complete=_seconds(finished.quantile(0.5)),
        average_seconds_to_complete=_seconds(finished.average()),
        stages=stages,
        top_drop_off_points=top,
        lost_at={d.step_id: d.lost for d in drop_offs},
    )
