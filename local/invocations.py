"""Asynchronous invocations, as Lambda runs them: the event is queued (the caller gets 202 at once), a failed run is
retried twice with a growing pause, and a run that still fails goes to the function's on-failure destination (the
invocation dead-letter queue, ``scheduler-dlq``) as Lambda's destination record: ``requestContext``,
``requestPayload`` (the event), ``responseContext`` and ``responsePayload`` (the error).

The local stack serves Lambda's ``Invoke`` API on the emulator's endpoint for ``InvocationType=Event``
(``local.emulator``), so a function that invokes another (a dead-letter task's retry) does what it does in AWS.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.emulator import ACCOUNT_ID, REGION
from local.runtime import Invocation, Runtime, RuntimeStoppedError

log = logging.getLogger(__name__)

LAMBDA_ASYNC_RETRIES = 2
"""Lambda retries a failed asynchronous run twice (the maximum; the catalogue's schedules ask for no more)."""

DeadLetterSink = Callable[[str, dict[str, str]], None]
"""Sends one dead letter (its body and message attributes) to the invocation dead-letter queue."""


def destination_record(function: str, event: Any, last: Invocation, invocations: int) -> dict[str, Any]:
    """Lambda's on-failure destination record of an asynchronous run that failed ``invocations`` times."""
    error = last.error
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(),
        "requestContext": {
            "requestId": last.request_id,
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": invocations,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorType": error.error_type if error else "Unknown",
            "errorMessage": (error.message if error else "") or "the function failed",
            "stackTrace": [],
        },
    }


class AsyncInvoker:
    """Runs queued events in the background with Lambda's retries and on-failure destination."""

    def __init__(
        self,
        runtime: Runtime,
        dead_letter: DeadLetterSink,
        *,
        retry_delay_seconds: float = 1.0,
        known: Callable[[str], bool] = lambda _name: True,
    ) -> None:
        self._runtime = runtime
        self._dead_letter = dead_letter
        self._retry_delay = retry_delay_seconds
        self._known = known
        self._stop = threading.Event()
        self._runs: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def knows(self, name: str) -> bool:
        return self._known(name)

    def invoke_later(self, name: str, event: Any) -> str:
        """Queue ``event`` for ``name``; the request id."""
        request_id = str(uuid.uuid4())
        run = threading.Thread(target=self.run, args=(name, event), name=f"invoke-{name}", daemon=True)
        with self._lock:
            if self._stop.is_set():  # the stack is stopping: nothing runs any more, as when Lambda is gone
                return request_id
            self._runs = {r for r in self._runs if r.is_alive()} | {run}
            # Started under the lock: ``stop`` joins only threads that were started.
            run.start()
        return request_id

    def run(self, name: str, event: Any) -> bool | None:
        """Run ``event`` with the retries; whether it succeeded (``None`` when stopped first)."""
        attempts = 0
        while True:
            attempts += 1
            try:
                last = self._runtime.invoke(name, event)
            except RuntimeStoppedError:
                return None
            if last.ok:
                return True
            if attempts > LAMBDA_ASYNC_RETRIES:
                break
            if self._stop.wait(self._retry_delay * attempts):
                return None
        log.error("%s failed %d times; its event went to the invocation dead-letter queue", name, attempts)
        self._dead_letter(json.dumps(destination_record(name, event, last, attempts)), {})
        return False

    def stop(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            self._stop.set()
            runs = list(self._runs)
        for run in runs:
            run.join(timeout=max(0.0, deadline - time.monotonic()))
