"""One retry policy and one circuit breaker for every call Firstmile makes to AWS (decision 0092).

Both act inside botocore, on the events every client emits, so no call site can forget them:

- ``needs-retry``: ``RETRY_POLICY`` decides. A throttle, a 5xx, a connection failure or a timeout is retried with
  exponential backoff and full jitter (``random(0, min(cap, base * 2 ** n))``), at most ``max_attempts`` tries in all;
  anything else (a validation error, a failed condition, a denied access) is answered at once. botocore's own retry
  handler is configured to try once (``total_max_attempts = 1``), so this is the only one.
- ``before-call``: the service's breaker. Open, it refuses the call at once with ``CircuitOpenError`` (a botocore
  error, so every caller's ``except BotoCoreError`` treats it as the dependency being down: 503 with
  ``Retry-After``), instead of every request waiting out its timeouts and retries.
- ``after-call`` / ``after-call-error``: the call's outcome, after its retries, counted by the breaker.

The breakers live in the Lambda container's memory, one per AWS service: a container learns within a few calls that
a dependency is down and stops adding load to it, with no call of its own to share state (a shared breaker in the
table would depend on the very dependency that fails, and add a read to every request). Containers decide
independently; each opening is published as a metric (``CircuitBreakerOpened``) and the states are in
``/health/ready``.

Faults can be injected at the same level for tests of the local stack (``FIRSTMILE_FAULTS_FILE``, see
``FaultInjector``): only ever against a loopback endpoint, never in AWS.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import (
    BotoCoreError,
    ConnectionError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

BreakerState = Literal["closed", "open", "half_open"]

RETRYABLE_CODES = frozenset(
    {
        # throttling, as DynamoDB, SQS, S3, Lambda, SES and Secrets Manager name it
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "LimitExceededException",
        # transient service faults
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "TransactionInProgressException",
    }
)
"""Error codes that say "try again later"; every other 4xx is the request's own fault and is not retried."""

_TRANSIENT_EXCEPTIONS = (ConnectionError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, for a bounded number of tries."""

    max_attempts: int = 3
    base_seconds: float = 0.05
    cap_seconds: float = 1.0

    def delay(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """How long to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling: float = min(self.cap_seconds, self.base_seconds * 2 ** (retry - 1))
        return rng() * ceiling

    def retries(self, attempts_made: int) -> bool:
        """Whether another try is allowed after ``attempts_made`` tries."""
        return attempts_made < self.max_attempts


RETRY_POLICY = RetryPolicy()
"""The one policy: three tries in all, waits of up to 50 ms then 100 ms (worst case 150 ms before the third)."""


def retryable(status: int | None, code: str | None, exception: BaseException | None) -> bool:
    """Whether an attempt's outcome is worth another try: a transient exception, a 5xx, or a throttling code."""
    if exception is not None:
        return isinstance(exception, _TRANSIENT_EXCEPTIONS)
    if code in RETRYABLE_CODES:
        return True
    return status is not None and status >= 500


@dataclass(frozen=True)
class BreakerSettings:
    """A breaker opens after ``failures_to_open`` calls in a row failed (each after its retries), refuses calls for
    ``open_seconds``, then lets one call through (half open): its success closes the breaker, its failure opens it
    again."""

    failures_to_open: int = 5
    open_seconds: float = 10.0


class CircuitOpenError(BotoCoreError):
    """The service's breaker is open: the call was not sent."""

    fmt = "The circuit breaker of {service} is open; retry in {retry_after} s"

    def __init__(self, service: str, retry_after: int) -> None:
        super().__init__(service=service, retry_after=retry_after)
        self.service = service
        self.retry_after = retry_after


@dataclass
class BreakerStats:
    """What one breaker saw in this container: calls, failures, refusals, openings, and its state."""

    service: str
    state: BreakerState = "closed"
    calls: int = 0
    failures: int = 0
    short_circuited: int = 0
    opened: int = 0
    consecutive_failures: int = 0


@dataclass
class CircuitBreaker:
    service: str
    settings: BreakerSettings = field(default_factory=BreakerSettings)
    clock: Callable[[], float] = time.monotonic
    on_open: Callable[[str], None] = lambda _service: None
    stats: BreakerStats = field(init=False)
    _opened_at: float = field(default=0.0, init=False)
    _probing: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.stats = BreakerStats(self.service)

    def allow(self) -> None:
        """Let a call through, or raise ``CircuitOpenError``."""
        with self._lock:
            if self.stats.state == "open":
                waited = self.clock() - self._opened_at
                if waited < self.settings.open_seconds:
                    self.stats.short_circuited += 1
                    raise CircuitOpenError(self.service, max(1, round(self.settings.open_seconds - waited)))
                self.stats.state = "half_open"
                self._probing = False
            if self.stats.state == "half_open":
                if self._probing:  # one probe at a time
                    self.stats.short_circuited += 1
                    raise CircuitOpenError(self.service, 1)
                self._probing = True
            self.stats.calls += 1

    def succeeded(self) -> None:
        with self._lock:
            self.stats.consecutive_failures = 0
            self.stats.state = "closed"
            self._probing = False

    def failed(self) -> None:
        opened = False
        with self._lock:
            self.stats.failures += 1
            self.stats.consecutive_failures += 1
            if self.stats.state == "half_open" or self.stats.consecutive_failures >= self.settings.failures_to_open:
                opened = self.stats.state != "open"
                self.stats.state = "open"
                self._opened_at = self.clock()
                self._probing = False
                self.stats.opened += opened
        if opened:
            self.on_open(self.service)


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker(service: str) -> CircuitBreaker:
    """This container's breaker of ``service`` (a botocore service name: dynamodb, sqs, s3, ...)."""
    with _breakers_lock:
        if service not in _breakers:
            _breakers[service] = CircuitBreaker(service, on_open=_publish_opening)
        return _breakers[service]


def breaker_states() -> list[BreakerStats]:
    """Every breaker of this container, as it stands."""
    with _breakers_lock:
        return [BreakerStats(**vars(b.stats)) for b in _breakers.values()]


def reset_breakers() -> None:
    with _breakers_lock:
        _breakers.clear()


def _publish_opening(service: str) -> None:
    from firstmile.observability import logger, metrics

    logger.warning("circuit breaker opened", extra={"dependency": service})
    metrics.add_metric(name="CircuitBreakerOpened", unit="Count", value=1)


# --- wiring into botocore ------------------------------------------------------------------------------------


def install(client: Any, service: str, policy: RetryPolicy | None = None) -> Any:
    """Put ``policy`` (by default ``RETRY_POLICY`` as it is when the client is made), the service's breaker and
    (locally, when asked) the fault injector on ``client``."""
    policy = policy if policy is not None else RETRY_POLICY
    events = client.meta.events
    guard = breaker(service)
    events.register("before-call", lambda **_: guard.allow(), unique_id="firstmile-breaker")
    events.register("after-call", lambda http_response, parsed, **_: _outcome(guard, http_response, parsed))
    events.register("after-call-error", lambda exception, **_: _failed(guard, exception))
    events.register("needs-retry", _retry_handler(policy), unique_id="firstmile-retry")
    injector = FaultInjector.from_environment(client.meta.endpoint_url, service)
    if injector is not None:
        events.register("before-send", injector.before_send, unique_id="firstmile-faults")
    return client


def _outcome(guard: CircuitBreaker, http_response: Any, parsed: Any) -> None:
    status = getattr(http_response, "status_code", 200)
    code = ((parsed or {}).get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
    if retryable(status, code, None):
        guard.failed()
    else:
        guard.succeeded()


def _failed(guard: CircuitBreaker, exception: BaseException) -> None:
    if not isinstance(exception, CircuitOpenError):
        guard.failed()


def _retry_handler(policy: RetryPolicy) -> Callable[..., float | None]:
    def needs_retry(attempts: int, response: Any = None, caught_exception: Any = None, **_: Any) -> float | None:
        if not policy.retries(attempts):
            return None
        status, code = None, None
        if response is not None:
            http, parsed = response
            status = getattr(http, "status_code", None)
            code = ((parsed or {}).get("Error") or {}).get("Code")
        if not retryable(status, code, caught_exception):
            return None
        return policy.delay(attempts)

    return needs_retry


# --- fault injection (local stack only) ----------------------------------------------------------------------

FAULTS_FILE_ENV = "FIRSTMILE_FAULTS_FILE"
_LOOPBACK = ("http://127.0.0.1", "http://localhost")


class FaultInjector:
    """Answers a share of a client's requests with a fault instead of sending them, as the file at
    ``FIRSTMILE_FAULTS_FILE`` says: ``{"rate": 0.2, "services": ["dynamodb", "sqs"], "kinds": ["throttle",
    "unavailable", "timeout"]}``; ``"delay_ms": 50`` makes every request of those services wait that long before it is
    sent (a slower dependency). The file is read again when it changes, so a test turns faults on and off while the
    stack runs; no file, or ``rate`` 0, injects nothing. Only a client whose endpoint is on the loopback interface
    (the local emulator) ever gets one."""

    def __init__(self, path: str, service: str, rng: Callable[[], float] = random.random) -> None:
        self._path = path
        self._service = service
        self._rng = rng
        self._seen: tuple[float, int] | None = None
        self._plan: dict[str, Any] = {}

    @classmethod
    def from_environment(cls, endpoint_url: str, service: str) -> FaultInjector | None:
        path = os.environ.get(FAULTS_FILE_ENV)
        if not path or not str(endpoint_url).startswith(_LOOPBACK):
            return None
        return cls(path, service)

    def _current(self) -> dict[str, Any]:
        try:
            stat = os.stat(self._path)
        except OSError:
            return {}
        if self._seen != (stat.st_mtime, stat.st_size):
            try:
                with open(self._path, encoding="utf-8") as file:
                    self._plan = json.load(file)
            except (OSError, ValueError):
                self._plan = {}
            self._seen = (stat.st_mtime, stat.st_size)
        return self._plan

    def before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        plan = self._current()
        rate = float(plan.get("rate", 0) or 0)
        service = self._service
        if plan.get("services") and service not in plan["services"]:
            return None
        delay_ms = float(plan.get("delay_ms", 0) or 0)
        if delay_ms > 0:
            time.sleep(delay_ms / 1000)  # a slower dependency (the load suite's injected regression)
        if rate <= 0 or self._rng() >= rate:
            return None
        kinds = plan.get("kinds") or ["throttle"]
        kind = kinds[int(self._rng() * len(kinds)) % len(kinds)]
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "unavailable":
            return _response(request, service, 503, "ServiceUnavailable")
        return _response(request, service, 400 if service != "s3" else 503, _THROTTLE_CODES.get(service, "Throttling"))


_THROTTLE_CODES = {"dynamodb": "ProvisionedThroughputExceededException", "s3": "SlowDown", "sqs": "RequestThrottled"}


def _response(request: Any, service: str, status: int, code: str) -> AWSResponse:
    """An error answer in the service's own protocol (S3 answers XML, the others JSON)."""
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>injected fault</Message></Error>".encode()
        headers = {"Content-Type": "application/xml"}
    else:
        body = json.dumps({"__type": code, "message": "injected fault"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}
    return AWSResponse(request.url, status, HTTPHeaders.from_dict(headers), _Raw(body))


class _Raw:
    """The raw stream an ``AWSResponse`` reads its body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body
