"""Readiness and startup checks, independent of AWS: checks are plain callables passed in."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime

from pydantic import ValidationError

from firstmile.health.models import (
    BreakerStatus,
    ComponentStatus,
    ComponentSummary,
    HealthSummary,
    Readiness,
    Startup,
    StartupCheck,
)

DependencyCheck = Callable[[], None]
"""A check returns when its dependency answered and raises when it did not."""


def failure_reason(exc: BaseException) -> str:
    """A short, safe reason for a failed check: the AWS error code or the exception type, never a message."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason  # a dependency's failure as the table gateway translated it (its code or the SDK's exception)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def check_readiness(
    checks: Mapping[str, DependencyCheck],
    timeout_seconds: float,
    clock: Callable[[], float] = time.perf_counter,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Readiness:
    """Run every check at once; each one slower than ``timeout_seconds`` counts as failed."""

    def timed(check: DependencyCheck) -> tuple[float, str | None]:
        start = clock()
        try:
            check()
        except Exception as exc:  # every failure of a dependency is a readiness answer, not a crash
            return (clock() - start) * 1000, failure_reason(exc)
        return (clock() - start) * 1000, None

    components: list[ComponentStatus] = []
    pool = ThreadPoolExecutor(max_workers=max(1, len(checks)))
    try:
        futures = {name: pool.submit(timed, check) for name, check in checks.items()}
        for name, future in futures.items():
            try:
                latency, reason = future.result(timeout=timeout_seconds)
            except FutureTimeout:
                latency, reason = timeout_seconds * 1000, "Timeout"
            status = "failed" if reason else "ok"
            components.append(ComponentStatus(name=name, status=status, latency_ms=round(latency, 2), reason=reason))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    overall = "failed" if any(c.status == "failed" for c in components) else "ok"
    return Readiness(status=overall, checked_at=now(), components=components)


def check_startup(load_settings: Callable[[], object]) -> Startup:
    """Whether the function could load its configuration (names of invalid settings, never their values)."""
    try:
        load_settings()
    except ValidationError as exc:
        names = invalid_setting_names(exc)
        return Startup(
            status="failed",
            checks=[StartupCheck(name="configuration", status="failed", reason="invalid: " + ", ".join(names))],
        )
    return Startup(status="ok", checks=[StartupCheck(name="configuration", status="ok")])


def invalid_setting_names(exc: ValidationError) -> list[str]:
    """The names of the settings that failed validation (never their values)."""
    return sorted({".".join(str(part) for part in e["loc"]) for e in exc.errors()})


def summarize(readiness: Readiness, *, version: str, commit: str, stage: str, full_detail: bool) -> HealthSummary:
    """The ``/health`` answer: component states for everyone, latencies and reasons only with full detail."""
    components = [
        ComponentSummary(
            name=c.name,
            status=c.status,
            latency_ms=c.latency_ms if full_detail else None,
            reason=c.reason if full_detail else None,
        )
        for c in readiness.components
    ]
    status = "ok" if readiness.status == "ok" else "degraded"
    return HealthSummary(status=status, version=version, commit=commit, stage=stage, components=components)


def breaker_statuses() -> list[BreakerStatus]:
    """This container's circuit breakers (decision 0092), one per AWS service it called."""
    from firstmile.platform.resilience import breaker_states

    return [BreakerStatus.model_validate({**vars(b), "dependency": b.service}) for b in breaker_states()]
