"""The demo users `make dev` walks: reproducible, spread over the days asked, acting only in the past, and better
converting on later days (so a comparison of two weeks shows a trend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.demo_users import DemoUser, plan_users

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)


def test_the_same_seed_plans_the_same_users() -> None:
    assert plan_users(50, 14, NOW, seed=3) == plan_users(50, 14, NOW, seed=3)
    assert plan_users(50, 14, NOW, seed=3) != plan_users(50, 14, NOW, seed=4)


def test_users_enrol_over_the_days_asked_and_act_only_before_now() -> None:
    users = plan_users(300, 14, NOW, seed=12)
    days = {u.enrolled_at.date() for u in users}
    assert min(days) == (NOW - timedelta(days=14)).date() and max(days) <= NOW.date()
    assert len(days) >= 14
    for user in users:
        moment = user.enrolled_at
        for action in user.actions:
            moment += action.after
        assert moment < NOW


def test_the_walk_has_every_kind_of_outcome_and_later_days_finish_more_often() -> None:
    users = plan_users(1000, 14, NOW, seed=12)
    bodies = [a.body or {} for u in users for a in u.actions]
    assert any(b.get("action") == "skip" and b.get("reason") for b in bodies)
    assert any(b.get("action") == "error" and b.get("error_code") for b in bodies)
    assert any(not u.actions for u in users)  # looked once and left
    first, second = users[: len(users) // 2], users[len(users) // 2 :]

    def rate(group: list[DemoUser]) -> float:
        return sum(u.finishes for u in group) / len(group)

    assert 0.2 < rate(first) < rate(second) < 0.8
