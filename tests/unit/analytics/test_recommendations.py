"""Recommendations from a funnel's numbers, each with its step, its reason and an impact computed from them."""

from __future__ import annotations

from firstmile.analytics.counting import FLOW, Counts, histogram_count
from firstmile.analytics.funnel import funnel
from firstmile.analytics.histogram import bucket_of
from firstmile.analytics.recommendations import recommendations

STEPS = ["profile", "invite", "connect"]
# Ten entered: nine completed the profile; four completed the invite and two skipped it; the six who passed it
# completed the connection and the onboarding; one left.
TEN_USERS = Counts(
    {
        FLOW: {"enrolled": 10, "completed": 6, "skipped": 1},
        "profile": {"completed": 9},
        "invite": {"completed": 4, "skipped": 2},
        "connect": {"completed": 6},
    }
)


def test_drop_offs_and_skipped_steps_are_recommended_highest_priority_first() -> None:
    made = recommendations(funnel(STEPS, TEN_USERS))

    assert [(r.type, r.priority, r.step_id) for r in made] == [
        ("drop_off", "high", "invite"),
        ("drop_off", "medium", "profile"),
        ("skipped_step", "medium", "invite"),
    ]
    invite, profile, skipped = made
    # Three of ten lost at the invite; all who passed it finished: a quarter to a half of them is 7.5 to 15 points
    assert invite.estimated_impact == "+7.5 to +15.0 points of overall conversion"
    assert invite.why == "3 of 10 users (30.0 %) stopped at invite after passing the step before (critical)."
    # One of ten lost at the profile; six of the nine who passed it finished: 1.7 to 3.3 points
    assert profile.estimated_impact == "+1.7 to +3.3 points of overall conversion"
    assert skipped.why == "2 of the 6 users who passed invite skipped it."
    assert all(r.suggested_actions for r in made)


def test_a_step_reached_a_day_later_than_the_one_before_is_slow() -> None:
    # Given a connection step its six users reached 40 hours after enrolling
    forty_hours = 40 * 3600
    name, one = histogram_count(bucket_of(forty_hours))
    reached = {"completed": 6, name: 6 * one, "seconds": 6 * forty_hours}
    counts = Counts({**TEN_USERS.by_target, "connect": reached})

    slow = [r for r in recommendations(funnel(STEPS, counts)) if r.type == "slow_step"]

    assert [(r.step_id, r.priority) for r in slow] == [("connect", "low")]


def test_recommendations_filter_by_priority_and_an_empty_funnel_has_none() -> None:
    assert [r.priority for r in recommendations(funnel(STEPS, TEN_USERS), priority="medium")] == ["medium", "medium"]
    assert recommendations(funnel(STEPS, Counts({}))) == []
