"""Judging a drop-off alert rule against its windows' funnels."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from firstmile.analytics.alerts import AlertRuleDefinition, judge
from firstmile.analytics.counting import Counts
from firstmile.analytics.funnel import FunnelView, funnel


def view(entered: int, profile: int, finished: int) -> FunnelView:
    return funnel(
        ["profile"],
        Counts({"FLOW": {"enrolled": entered, "completed": finished}, "profile": {"completed": profile}}),
    )


def rule(**fields: Any) -> AlertRuleDefinition:
    return AlertRuleDefinition.model_validate({"flow_id": "welcome", "min_sessions": 20, **fields})


def test_a_conversion_under_the_threshold_fires_and_one_at_it_does_not() -> None:
    watching = rule(kind="conversion_below", step_id="profile", threshold=60)
    assert judge(watching, view(40, 20, 10), view(0, 0, 0)).firing is True  # 50 %
    verdict = judge(watching, view(40, 24, 10), view(0, 0, 0))  # 60 %
    assert (verdict.firing, verdict.value) == (False, 60.0)
    assert "at or over 60 %" in verdict.message


def test_a_drop_beyond_the_allowed_points_fires() -> None:
    watching = rule(kind="conversion_drop", threshold=10)
    fell = judge(watching, view(50, 40, 20), view(50, 40, 30))  # 40 % from 60 %
    assert (fell.firing, fell.value, fell.baseline) == (True, 40.0, 60.0)
    assert "-20 points" in fell.message
    assert judge(watching, view(50, 40, 26), view(50, 40, 30)).firing is False  # 52 % from 60 %: -8 points


def test_too_few_users_in_either_window_gives_no_verdict() -> None:
    assert judge(rule(kind="conversion_below", threshold=50), view(19, 0, 0), view(0, 0, 0)).firing is None
    assert judge(rule(kind="conversion_drop", threshold=5), view(40, 0, 0), view(10, 0, 5)).firing is None


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "conversion_below", "threshold": 0},
        {"kind": "conversion_below", "threshold": 101},
        {"kind": "conversion_drop", "threshold": 100},
        {"kind": "conversion_up", "threshold": 5},
        {"kind": "conversion_below", "threshold": 5, "window_days": 31},
        {"kind": "conversion_below", "threshold": 5, "extra": True},
    ],
)
def test_a_rule_that_cannot_be_judged_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        rule(**fields)
