"""The contract of the rate limiter's ``Counter``: atomic fixed-window counts per subject, route class and window."""

from __future__ import annotations

from typing import ClassVar

from firstmile.limits.models import LimitSubject, RouteClass
from firstmile.limits.ports import Counter
from tests.factories import NOW

ALICE = LimitSubject.user("t-acme", "u-alice")
WINDOW = int(NOW // 60) * 60


class RateCounterContract:
    """Subclasses provide ``counter``."""

    implementation: ClassVar[type]

    def test_hits_count_up_per_subject_route_class_and_window(self, counter: Counter) -> None:
        assert [counter.hit(ALICE, RouteClass.USER_WRITE, WINDOW, 60) for _ in range(3)] == [1, 2, 3]

        assert counter.hit(LimitSubject.user("t-acme", "u-bob"), RouteClass.USER_WRITE, WINDOW, 60) == 1
        assert counter.hit(LimitSubject.user("t-other", "u-alice"), RouteClass.USER_WRITE, WINDOW, 60) == 1
        assert counter.hit(ALICE, RouteClass.AUTH_REFRESH, WINDOW, 60) == 1
        assert counter.hit(ALICE, RouteClass.USER_WRITE, WINDOW + 60, 60) == 1
        assert counter.hit(LimitSubject.client("t-acme", "fmc_x"), RouteClass.USER_WRITE, WINDOW, 60) == 1
        assert counter.hit(LimitSubject.source("192.0.2.1"), RouteClass.USER_WRITE, WINDOW, 60) == 1

    def test_a_count_reads_without_adding(self, counter: Counter) -> None:
        assert counter.count(ALICE, RouteClass.USER_WRITE, WINDOW) == 0
        counter.hit(ALICE, RouteClass.USER_WRITE, WINDOW, 60)

        assert counter.count(ALICE, RouteClass.USER_WRITE, WINDOW) == 1
        assert counter.count(ALICE, RouteClass.USER_WRITE, WINDOW) == 1
