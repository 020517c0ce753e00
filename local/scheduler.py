"""The local EventBridge Scheduler: ``rate(...)`` and ``cron(...)`` expressions, retries, the dead-letter queue.

Every scheduled function of the catalogue fires on its expression (UTC). A failed run (the function raised or
timed out) is retried up to the schedule's ``retry_attempts`` with a growing delay, while the event is younger
than ``max_event_age_seconds``; then it goes to the scheduler's dead-letter queue as Lambda's on-failure destination
record (``local.invocations``): in AWS, Scheduler hands the event to Lambda, which retries the failed run and sends
it to the function's on-failure destination, that same queue. The dead-letter collector turns it into a task.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from croniter import croniter

from functions.catalog import Function, Schedule
from local.console import CONSOLE
from local.events import schedule_event
from local.invocations import destination_record
from local.runtime import Invocation, Runtime, RuntimeStoppedError

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class Expression(Protocol):
    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment``."""
        ...


@dataclass(frozen=True)
class RateExpression:
    """``rate(N unit)``: every ``period``, counted from when the schedule started."""

    period: timedelta
    start: datetime

    def next_after(self, moment: datetime) -> datetime:
        elapsed = max(timedelta(0), moment - self.start)
        periods = elapsed // self.period + 1
        return self.start + periods * self.period


@dataclass(frozen=True)
class CronExpression:
    """``cron(minutes hours day-of-month month day-of-week year)`` in AWS's syntax, evaluated in UTC."""

    standard: str  # the five standard fields, for croniter
    years: frozenset[int] | None  # None: every year

    def next_after(self, moment: datetime) -> datetime:
        found: datetime = croniter(self.standard, moment.astimezone(UTC)).get_next(datetime)
        # Skip whole years the year field excludes, rather than walking minute by minute.
        for _ in range(1000):
            if self.years is None or found.year in self.years:
                return found
            later = [y for y in self.years if y > found.year]
            if not later:
                break
            restart = datetime(min(later), 1, 1, tzinfo=UTC) - timedelta(minutes=1)
            found = croniter(self.standard, restart).get_next(datetime)
        raise ValueError(f"cron({self.standard}) never fires again")


def parse_expression(expression: str, start: datetime | None = None) -> Expression:
    """The schedule expression of the catalogue as something that knows its next fire time."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ValueError(f"{expression}: AWS wants rate(1 unit) or rate(N units) with N > 1")
        return RateExpression(value * _UNITS[unit.rstrip("s")], start or datetime.now(UTC))
    cron = _CRON.match(text)
    if cron:
        return _parse_cron(expression, cron.group(1).split())
    raise ValueError(f"{expression}: not rate(...) or cron(...)")


def _parse_cron(expression: str, fields: list[str]) -> CronExpression:
    if len(fields) != 6:
        raise ValueError(f"{expression}: AWS cron has six fields (minutes hours day-of-month month day-of-week year)")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    standard = " ".join([minutes, hours, "*" if dom == "?" else dom, month, "*" if dow == "?" else _aws_dow(dow)])
    if not croniter.is_valid(standard):
        raise ValueError(f"{expression}: not a valid cron expression")
    return CronExpression(standard, None if year == "*" else _years(expression, year))


def _aws_dow(field: str) -> str:
    """AWS numbers days 1 (Sunday) to 7 (Saturday); standard cron 0 to 6. Names and '#n' carry over."""

    def shift(part: str) -> str:
        day, hash_, nth = part.partition("#")
        step_base, slash, step = day.partition("/")
        bounds = [_shift_day(b) for b in step_base.split("-")]
        return "-".join(bounds) + slash + step + hash_ + nth

    return ",".join(shift(part) for part in field.split(","))


def _shift_day(value: str) -> str:
    if value.isdigit():
        number = int(value)
        if not 1 <= number <= 7:
            raise ValueError(f"day-of-week {value} is outside 1-7")
        return str(number - 1)
    if value.upper().rstrip("L") in _DOW_NAMES or value == "*":
        return value
    if value.upper() == "L":
        raise ValueError("day-of-week 'L' is not supported locally")
    return value


def _years(expression: str, field: str) -> frozenset[int]:
    years: set[int] = set()
    for part in field.split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"{expression}: the local scheduler understands years as N, N-M or lists of them")
        years.update(range(int(first), int(last or first) + 1))
    return frozenset(years)


def scheduled_functions(catalog: Iterable[Function]) -> list[Function]:
    """Every function the catalogue runs on a schedule."""
    return [f for f in catalog if isinstance(f.trigger, Schedule)]


DeadLetterSink = Callable[[str, dict[str, str]], None]
"""Sends one dead-letter event (its body and message attributes) to the scheduler's dead-letter queue."""


def sqs_dead_letter_sink(sqs: Any, queue_url: str) -> DeadLetterSink:
    """A sink that sends to the SQS queue at ``queue_url``."""

    def send(body: str, attributes: dict[str, str]) -> None:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    return send


@dataclass(frozen=True)
class RunOutcome:
    """A scheduled run after its retries: the last invocation, and whether it ended in the dead-letter queue."""

    last: Invocation
    attempts: int
    dead_lettered: bool


class Scheduler:
    """Fires every scheduled function of ``catalog`` on time, each run in its own thread."""

    def __init__(
        self,
        catalog: Iterable[Function],
        runtime: Runtime,
        dead_letter: DeadLetterSink,
        *,
        stage: str,
        retry_delay_seconds: float = 1.0,
        started_at: datetime | None = None,
    ) -> None:
        self._functions = scheduled_functions(catalog)
        self._runtime = runtime
        self._dead_letter = dead_letter
        self._stage = stage
        self._retry_delay = retry_delay_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._runs: set[threading.Thread] = set()
        self._lock = threading.Lock()
        # Rate schedules count from here, as a schedule counts from its creation.
        started = started_at or datetime.now(UTC)
        self._expressions = {
            f.name: parse_expression(f.trigger.expression, started)
            for f in self._functions
            if isinstance(f.trigger, Schedule)
        }

    def next_fire_times(self, after: datetime | None = None) -> dict[str, datetime]:
        """When each scheduled function fires next (a schedule that never fires again is left out)."""
        moment = after or datetime.now(UTC)
        upcoming = {name: self._next(name, moment) for name in self._expressions}
        return {name: due for name, due in upcoming.items() if due is not None}

    def _next(self, name: str, after: datetime) -> datetime | None:
        try:
            return self._expressions[name].next_after(after)
        except ValueError as exc:
            log.warning("schedule %s will not fire again: %s", name, exc)
            return None

    def start(self) -> Scheduler:
        """Start firing in a background thread."""
        if self._functions:
            self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        upcoming = self.next_fire_times()
        while upcoming and not self._stop.is_set():
            name, due = min(upcoming.items(), key=lambda item: item[1])
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0:
                # Wake at least every minute, so a changed wall clock is noticed soon enough.
                self._stop.wait(min(wait, 60.0))
                continue
            following = self._next(name, due)
            if following is None:
                del upcoming[name]
            else:
                upcoming[name] = following
            self._fire_in_background(name, due)

    def _fire_in_background(self, name: str, scheduled_time: datetime) -> None:
        run = threading.Thread(target=self.run, args=(name, scheduled_time), name=f"schedule-{name}", daemon=True)
        with self._lock:
            self._runs = {r for r in self._runs if r.is_alive()} | {run}
        run.start()

    def run(self, name: str, scheduled_time: datetime) -> RunOutcome | None:
        """Run one scheduled invocation with the schedule's retry policy; ``None`` when stopped first."""
        function = next(f for f in self._functions if f.name == name)
        assert isinstance(function.trigger, Schedule)  # noqa: S101 - scheduled_functions kept only these
        policy = function.trigger
        execution_id = str(uuid.uuid4())
        attempts = 0
        while True:
            attempts += 1
            event = schedule_event(
                function, stage=self._stage, scheduled_time=scheduled_time, execution_id=execution_id, attempt=attempts
            )
            try:
                last = self._runtime.invoke(name, event)
            except RuntimeStoppedError:
                return None
            if last.ok:
                log.info("job %s ran: ok in %.0f ms", name, last.duration_ms, extra=CONSOLE)
                return RunOutcome(last, attempts, dead_lettered=False)
            age = (datetime.now(UTC) - scheduled_time).total_seconds()
            if attempts > policy.retry_attempts or age >= policy.max_event_age_seconds:
                break
            error = last.error
            reason = f"{error.error_type}: {error.message}" if error else "failed"
            log.warning("job %s failed (attempt %d: %s); retrying", name, attempts, reason)
            # Scheduler backs off between retries; kept short locally. A stop abandons the run.
            if self._stop.wait(self._retry_delay * attempts):
                return None
        self._send_to_dead_letter_queue(function, event, last, attempts)
        return RunOutcome(last, attempts, dead_lettered=True)

    def _send_to_dead_letter_queue(
        self, function: Function, event: dict[str, Any], last: Invocation, attempts: int
    ) -> None:
        log.error("job %s failed %d times; its event went to the scheduler DLQ", function.name, attempts)
        self._dead_letter(json.dumps(destination_record(function.name, event, last, attempts)), {})

    def signal_stop(self) -> None:
        """Fire nothing more and retry nothing more; returns at once."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop firing and wait, at most ``timeout`` in all, for the runs in flight (they end when the runtime stops
        their instances; a run still going after that is a daemon thread)."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.join(timeout=max(0.0, deadline - time.monotonic()))
