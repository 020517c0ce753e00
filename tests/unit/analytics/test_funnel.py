"""The funnel read from counters: stages, conversions, times and drop-offs, worked by hand and from counted events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firstmile.analytics.counting import FLOW, AnalyticsEvent, Counts, add_up, updates
from firstmile.analytics.funnel import SEVERITY, funnel, severity_of
from firstmile.analytics.histogram import RELATIVE_ERROR
from firstmile.onboarding.models import EventType

STEPS = ["profile", "invite", "connect"]
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def counted(events: list[AnalyticsEvent]) -> Counts:
    """The whole funnel's day counters of ``events``, added up as a read adds them."""
    items: dict[str, dict[str, float]] = {}
    for event in events:
        for update in updates(event):
            if update.key.segment == "all" and update.key.period.startswith("DAY#"):
                item = items.setdefault(update.key.sk, {})
                for name, amount in update.amounts.items():
                    item[name] = item.get(name, 0) + amount
    return add_up(items.items())


def walk(user: int, *steps: tuple[str, EventType, float], finished: EventType | None = None) -> list[AnalyticsEvent]:
    """A user's enrolment and steps (each with the minutes after enrolment it happened)."""

    def event(n: int, kind: EventType, minutes: float, step: str | None = None) -> AnalyticsEvent:
        return AnalyticsEvent(
            "acme", f"u{user}#{n}", kind, START + timedelta(minutes=minutes), START, "welcome", 1, step
        )

    made = [event(0, EventType.ENROLLED, 0)]
    made += [event(n + 1, kind, minutes, step) for n, (step, kind, minutes) in enumerate(steps)]
    if finished is not None:
        made.append(event(len(made), finished, (steps[-1][2] if steps else 0) + 1))
    return made


C, S = EventType.STEP_COMPLETED, EventType.STEP_SKIPPED


def test_a_funnel_of_ten_users_worked_by_hand() -> None:
    # Given ten users: four finish every step, two skip the invite and finish, two stop after the profile, one stops
    # after enrolling, one completes the profile and then skips the whole onboarding
    events: list[AnalyticsEvent] = []
    for u in range(4):
        events += walk(
            u, ("profile", C, 10), ("invite", C, 20), ("connect", C, 60), finished=EventType.ONBOARDING_COMPLETED
        )
    for u in range(4, 6):
        events += walk(
            u, ("profile", C, 10), ("invite", S, 12), ("connect", C, 30), finished=EventType.ONBOARDING_COMPLETED
        )
    for u in range(6, 8):
        events += walk(u, ("profile", C, 5))
    events += walk(8)
    events += walk(9, ("profile", C, 10), finished=EventType.ONBOARDING_SKIPPED)

    # When the funnel is read
    view = funnel(STEPS, counted(events))

    # Then ten entered, six finished, one left
    assert (view.total_sessions, view.completed, view.skipped, view.overall_conversion_rate) == (10, 6, 1, 0.6)
    profile, invite, connect = view.stages
    # profile: nine of ten completed it
    assert (profile.count, profile.conversion_from_previous, profile.conversion_from_start) == (9, 0.9, 0.9)
    # invite: four completed, two skipped, of the nine who passed the profile
    assert (invite.count, invite.skipped, invite.conversion_from_previous, invite.conversion_from_start) == (
        4,
        2,
        0.4444,
        0.4,
    )
    # connect: all six who passed the invite completed it
    assert (connect.count, connect.conversion_from_previous, connect.conversion_from_start) == (6, 1.0, 0.6)
    # ...three were lost at the invite (the two who stopped after the profile and the one who left), one at the
    # profile (the one who stopped after enrolling)
    assert [(d.step_id, d.lost, d.share, d.severity) for d in view.top_drop_off_points] == [
        ("invite", 3, 0.3, "critical"),
        ("profile", 1, 0.1, "high"),
    ]
    # Times to reach: the median within the histogram's error, the average exact
    assert connect.average_seconds_to_reach == pytest.approx((4 * 3600 + 2 * 1800) / 6, abs=0.1)
    assert connect.median_seconds_to_reach == pytest.approx(3600, rel=RELATIVE_ERROR)
    assert profile.median_seconds_to_reach == pytest.approx(600, rel=RELATIVE_ERROR)


def test_a_funnel_nobody_entered_has_no_rates_and_no_drop_offs() -> None:
    view = funnel(STEPS, Counts({}))
    assert (view.total_sessions, view.overall_conversion_rate, view.top_drop_off_points) == (0, None, [])
    assert all(s.conversion_from_start is None and s.median_seconds_to_reach is None for s in view.stages)


def test_at_most_five_drop_offs_are_named_the_largest_first() -> None:
    # Given eight steps, each losing one more user than the one before (1, 2, ..., 8 of 100)
    steps = [f"s{n}" for n in range(8)]
    passed, by_target = 100, {FLOW: {"enrolled": 100.0}}
    for n, step in enumerate(steps):
        passed -= n + 1
        by_target[step] = {"completed": float(passed)}

    view = funnel(steps, Counts(by_target))

    assert [d.step_id for d in view.top_drop_off_points] == ["s7", "s6", "s5", "s4", "s3"]


@pytest.mark.parametrize(
    ("share", "severity"), [(0.5, "critical"), (0.25, "critical"), (0.1, "high"), (0.07, "medium"), (0.049, "low")]
)
def test_severity_follows_the_share_of_entrants_lost(share: float, severity: str) -> None:
    assert severity_of(share) == severity
    assert [floor for floor, _ in SEVERITY] == sorted((floor for floor, _ in SEVERITY), reverse=True)


def test_nobody_is_lost_at_an_optional_step_left_untouched() -> None:
    # Given ten users who complete the profile and the connection, leaving the optional invite untouched
    events: list[AnalyticsEvent] = []
    for u in range(10):
        events += walk(u, ("profile", C, 10), ("connect", C, 20), finished=EventType.ONBOARDING_COMPLETED)

    # When the funnel is read with the invite named optional
    view = funnel(STEPS, counted(events), optional={"invite"})

    # Then nobody is lost anywhere, and the connection's step before is the profile
    assert view.top_drop_off_points == []
    invite, connect = view.stages[1], view.stages[2]
    assert (invite.count, invite.conversion_from_previous) == (0, 0.0)
    assert (connect.count, connect.conversion_from_previous, view.overall_conversion_rate) == (10, 1.0, 1.0)


def test_a_step_skipped_then_completed_counts_once_as_completed() -> None:
    # Given a user who skips the invite, then completes it (onboarding marks the completion "was": "skipped")
    events = walk(0, ("profile", C, 10), ("invite", S, 11), ("connect", C, 30), finished=EventType.ONBOARDING_COMPLETED)
    events.append(
        AnalyticsEvent(
            "acme", "u0#9", C, START + timedelta(minutes=20), START, "welcome", 1, "invite", was_skipped=True
        )
    )

    view = funnel(STEPS, counted(events))

    invite = view.stages[1]
    assert (invite.count, invite.skipped) == (1, 0)
    assert view.top_drop_off_points == []
    assert view.stages[2].conversion_from_previous == 1.0
