"""An in-memory message queue: what a service sends, delivered to a consumer as SQS would (at least once, failed
messages back on the queue)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from tests.fakes.faults import Faults


class FakeQueue:
    """A ``MessageQueue``: messages travel as JSON text, as they do through SQS, so only what survives that arrives."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.pending: deque[str] = deque()
        # Every body handed to a consumer, in order (redeliveries included).
        self.delivered: list[str] = []

    def send(self, messages: Sequence[dict[str, Any]]) -> None:
        self.faults.enter("send")
        self.pending.extend(json.dumps(message, separators=(",", ":")) for message in messages)

    def drain(self, consume: Callable[[dict[str, Any]], None], *, max_deliveries: int = 10_000) -> int:
        """Hand every message to ``consume`` until the queue is empty; one that raises goes back to the end of the
        queue (its visibility timeout running out) for another delivery. How many deliveries failed."""
        failed = 0
        for _ in range(max_deliveries):
            if not self.pending:
                return failed
            body = self.pending.popleft()
            self.delivered.append(body)
            try:
                consume(json.loads(body))
            except Exception:
                failed += 1
                self.pending.append(body)
        raise AssertionError(f"the queue was not empty after {max_deliveries} deliveries")
