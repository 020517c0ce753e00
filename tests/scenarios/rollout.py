"""A progressive rollout of one flag's rule: the flag, the plan, and users on either side of the rollout's bucket."""

from __future__ import annotations

import itertools
from typing import Any

from firstmile.flags import logic

TENANT = "t-acme"
ADMIN = "admin:u-admin"
KEY = "new-checkout"
RULE = "beta"
FLOW = "welcome"
STEPS = [1, 5, 25, 100]
DWELL = 60
JOB = "system:rollout"


def flag_body(key: str = KEY, percentage: float = 0) -> dict[str, Any]:
    """A flag with the rule a plan rolls out (German users) and one it leaves alone (staff)."""
    return {
        "key": key,
        "description": "The new checkout",
        "enabled": True,
        "rules": [
            {
                "id": "staff",
                "conditions": [{"attribute": "plan", "operator": "eq", "value": "staff"}],
                "serve": {"value": True},
            },
            {
                "id": RULE,
                "conditions": [{"attribute": "country", "operator": "in", "value": ["DE", "AT"]}],
                "percentage": percentage,
                "serve": {"value": True},
            },
        ],
        "fallthrough": {"value": False},
    }


def plan_body(
    steps: list[float] | None = None, *, dwell: int = DWELL, rule_id: str = RULE, guard: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rule_id": rule_id,
        "steps": [{"percentage": p, "min_dwell_minutes": dwell} for p in steps or STEPS],
    }
    if guard is not None:
        body["guard"] = guard
    return body


def rule_percentage(flag: dict[str, Any]) -> float:
    """The rolled-out rule's percentage in a flag's JSON form (or in a diff's ``rules``)."""
    [rule] = [r for r in flag["rules"] if r["id"] == RULE]
    return float(rule["percentage"])


def users_of_arm(inside: bool, threshold: int, count: int, prefix: str) -> list[str]:
    """``count`` user ids whose rollout bucket for the flag is below ``threshold`` (``inside``) or not."""
    candidates = (f"{prefix}-{n:05d}" for n in itertools.count())
    return list(itertools.islice((u for u in candidates if (logic.bucket(KEY, u) < threshold) is inside), count))
