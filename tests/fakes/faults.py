"""Failures a fake can be told to have, per method: the table throttling or unreachable, or a conditional write
losing a race (as if another writer had come first)."""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Literal

from firstmile.errors import DependencyUnavailableError

Fault = Literal["unavailable", "conflict", "pass"]
_PASS: tuple[Fault, str] = ("pass", "")
_CONFLICT: tuple[Fault, str] = ("conflict", "")


@dataclass
class Faults:
    """Planned failures and a count of the calls each method received.

    ``unavailable("get_progress")`` makes the next call of that method raise ``DependencyUnavailableError`` (as a
    throttled or unreachable table does); ``conflict("write_transition")`` makes its next conditional write fail its
    condition, answered the way the real store answers a lost race (a conflict error carrying the stored state, or
    ``False``). ``times`` plans more than one; ``after`` lets that many calls through first.
    """

    calls: Counter[str] = field(default_factory=Counter)
    _planned: defaultdict[str, deque[tuple[Fault, str]]] = field(default_factory=lambda: defaultdict(deque))

    def unavailable(self, method: str, *, times: int = 1, after: int = 0, reason: str = "ThrottlingException") -> None:
        """After ``after`` calls of ``method`` that succeed, the next ``times`` fail as a throttled or unreachable
        table does."""
        failure: tuple[Fault, str] = ("unavailable", reason)
        self._planned[method].extend([_PASS] * after + [failure] * times)

    def conflict(self, method: str, *, times: int = 1, after: int = 0) -> None:
        """After ``after`` calls of ``method``, its next ``times`` conditional writes lose as if another writer had
        come first."""
        self._planned[method].extend([_PASS] * after + [_CONFLICT] * times)

    def enter(self, method: str) -> None:
        """Count a call; raise the unavailability planned for it, if that comes next."""
        self.calls[method] += 1
        planned = self._planned.get(method)
        if planned and planned[0][0] == "pass":
            planned.popleft()
            return
        if planned and planned[0][0] == "unavailable":
            _, reason = planned.popleft()
            raise DependencyUnavailableError("table", reason)

    def conflicts(self, method: str) -> bool:
        """Whether this conditional write of ``method`` is planned to lose (consumes the plan)."""
        planned = self._planned.get(method)
        if planned and planned[0][0] == "conflict":
            planned.popleft()
            return True
        return False
