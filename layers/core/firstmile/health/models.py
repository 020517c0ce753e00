"""What the health endpoints and the synthetic probe report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from firstmile.model import Model

Status = Literal["ok", "failed"]


class ComponentStatus(Model):
    """One dependency as a readiness check saw it."""

    name: str = Field(description="table, bucket:<name> or queue:<name>")
    status: Status
    latency_ms: float = Field(ge=0)
    reason: str | None = Field(default=None, description="Error code when the check failed")


class BreakerStatus(Model):
    """A circuit breaker of the answering container (decision 0092): one per AWS service it called."""

    dependency: str = Field(description="The AWS service: dynamodb, sqs, s3, lambda, sesv2, secretsmanager")
    state: Literal["closed", "open", "half_open"]
    calls: int
    failures: int
    short_circuited: int = Field(description="Calls refused while it was open")
    opened: int = Field(description="Times it opened")


class Readiness(Model):
    status: Status
    checked_at: datetime
    components: list[ComponentStatus]
    breakers: list[BreakerStatus] = Field(
        default_factory=list, description="The answering container's circuit breakers, after its checks"
    )

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.components if c.status == "failed"]


class Liveness(Model):
    status: Literal["ok"] = "ok"


class StartupCheck(Model):
    name: str
    status: Status
    reason: str | None = None


class Startup(Model):
    status: Status
    checks: list[StartupCheck]


class ComponentSummary(Model):
    name: str
    status: Status
    latency_ms: float | None = Field(default=None, description="Operators only")
    reason: str | None = Field(default=None, description="Operators only")


class HealthSummary(Model):
    status: Literal["ok", "degraded"]
    version: str
    commit: str
    stage: str
    components: list[ComponentSummary]
