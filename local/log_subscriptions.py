"""What a CloudWatch Logs subscription filter does in AWS, for the local stack (decision 0101).

Every function instance, and the fork server, write their standard output and error into one pipe instead of
straight into the stack's log: a thread copies each line on to the log unchanged, and keeps those lines that are
request records (``firstmile.sla.requests``: the filter pattern ``{ $.firstmile_request = 1 }``), but the
subscriber's own (in AWS its log group carries no filter). The gateway hands over the access log lines of the
answers it made itself because a function or the authorizer failed (``access_record``: the access log's filter,
decision 0105). Every five seconds, the kept lines go to the subscriber function as the event CloudWatch Logs would
send (``awslogs.data``: gzipped JSON of a log group and its log events; here one event for all the lines), invoked
asynchronously, so a delivery that keeps failing ends in the invocation dead-letter queue as in AWS.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from firstmile.sla.requests import MARKER, answered_by_gateway, encode_subscription

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 5.0
"""Within seconds, as CloudWatch Logs: every five, so a busy local stack runs its aggregator a few times a minute."""
MAX_EVENTS_PER_DELIVERY = 1000
_MARKER = f'"{MARKER}"'.encode()
_READ_SIZE = 1 << 16


class LogSubscriptions:
    """The pipe the functions write to, its copier and the deliveries of the kept lines to ``deliver``."""

    def __init__(
        self,
        output: int | None,
        deliver: Callable[[dict[str, Any]], None],
        *,
        subscriber: str = "",
        interval_seconds: float = DELIVERY_INTERVAL_SECONDS,
    ) -> None:
        self._output = output if output is not None else 2
        self._deliver = deliver
        self._subscriber = subscriber
        self._interval = interval_seconds
        self._read, self.write_end = os.pipe()
        self._pending: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._copier = threading.Thread(target=self._copy, name="log-copier", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="log-subscription", daemon=True)
        self.delivered = 0
        self.skipped = 0
        """Request records of the subscriber itself, not delivered (in AWS its log group has no filter)."""

    def start(self) -> LogSubscriptions:
        self._copier.start()
        self._sender.start()
        return self

    def _copy(self) -> None:
        rest = b""
        while True:
            try:
                chunk = os.read(self._read, _READ_SIZE)
            except OSError:
                return
            if not chunk:
                if rest:
                    self._line(rest)
                return
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                self._line(line)

    def _line(self, line: bytes) -> None:
        with contextlib.suppress(OSError):  # the log going away must not stop the records
            data = memoryview(line + b"\n")
            while data:
                data = data[os.write(self._output, data) :]
        if _MARKER not in line:
            return
        text = line.decode("utf-8", "replace")
        try:
            document = json.loads(text)
        except ValueError:
            return
        # The filter pattern ``{ $.firstmile_request = 1 }``: what the aggregator cannot read it skips.
        if not isinstance(document, dict) or document.get(MARKER) != 1:
            return
        function = str(document.get("function") or "unknown")
        with self._lock:
            if function == self._subscriber:
                self.skipped += 1
                return
            self._pending.append((function, text, int(time.time() * 1000)))

    def access_record(self, document: dict[str, Any]) -> None:
        """One line of the API's access log, kept when the access log's filter would pass it on."""
        if not answered_by_gateway(document):
            return
        with self._lock:
            self._pending.append(("apigateway", json.dumps(document, separators=(",", ":")), int(time.time() * 1000)))

    def _send_loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        """Deliver what was kept so far: one event for every function's lines (CloudWatch Logs sends one per log
        group; the aggregator reads only the records, and one run a delivery keeps a busy local stack's work small),
        at most ``MAX_EVENTS_PER_DELIVERY`` lines each."""
        with self._lock:
            pending, self._pending = self._pending, []
        now_ms = int(time.time() * 1000)
        sources = {f for f, _, _ in pending}
        group = f"/aws/lambda/{pending[0][0]}" if len(sources) == 1 else "/aws/lambda/local-functions"
        for start in range(0, len(pending), MAX_EVENTS_PER_DELIVERY):
            chunk = pending[start : start + MAX_EVENTS_PER_DELIVERY]
            events = [(f"{now_ms}{next(self._ids):012d}", at_ms, text) for _, text, at_ms in chunk]
            try:
                self._deliver(encode_subscription(group, events))
            except Exception:  # a delivery that cannot be queued is lost, as a subscription's would be
                log.exception("request records could not be delivered")
                continue
            with self._lock:
                self.delivered += len(events)

    def stop(self) -> None:
        """Close the pipe's write end (the functions' ends are closed once they stopped) and deliver the rest."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.close(self.write_end)
        self._copier.join(timeout=1.0)
        self.flush()
        self._sender.join(timeout=1.0)
        if not self._copier.is_alive():
            os.close(self._read)
