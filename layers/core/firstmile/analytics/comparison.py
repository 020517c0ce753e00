"""Whether a funnel got better between two periods: a two-proportion z-test on conversion, never a bare sign
(decision 0070).

Each period's users who entered are one sample (day counters are kept by enrolment day), and those who completed the
onboarding are its successes. The test is two-sided at ``SIGNIFICANCE_LEVEL``: the trend is ``improving`` or
``declining`` only when the difference would be that unlikely without a real change, else ``flat``. With no users in
a period, or nobody converting (or everybody) in both, nothing can be told apart and the trend is ``flat``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

SIGNIFICANCE_LEVEL = 0.05

TrendName = Literal["improving", "declining", "flat"]


@dataclass(frozen=True)
class Trend:
    trend: TrendName
    conversion_rate_change: float | None
    p_value: float | None
    significance_level: float = SIGNIFICANCE_LEVEL


def two_proportion_p_value(converted1: int, entered1: int, converted2: int, entered2: int) -> float | None:
    """The two-sided p-value of the pooled two-proportion z-test; ``None`` when a period has nobody, or the pooled
    rate is 0 or 1 (no variance to test against)."""
    if entered1 <= 0 or entered2 <= 0:
        return None
    pooled = (converted1 + converted2) / (entered1 + entered2)
    if pooled <= 0.0 or pooled >= 1.0:
        return None
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / entered1 + 1 / entered2))
    z = (converted2 / entered2 - converted1 / entered1) / standard_error
    return math.erfc(abs(z) / math.sqrt(2))


def trend(
    converted1: int, entered1: int, converted2: int, entered2: int, *, level: float = SIGNIFICANCE_LEVEL
) -> Trend:
    """The second period against the first."""
    if entered1 <= 0 or entered2 <= 0:
        return Trend("flat", None, None, level)
    change = round(converted2 / entered2 - converted1 / entered1, 4)
    p_value = two_proportion_p_value(converted1, entered1, converted2, entered2)
    if p_value is None or p_value >= level or change == 0:
        return Trend("flat", change, None if p_value is None else round(p_value, 6), level)
    return Trend("improving" if change > 0 else "declining", change, round(p_value, 6), level)
