"""What the health endpoints and the synthetic probe report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "failed"]


class ComponentStatus(BaseModel):
    """One dependency as a readiness check saw it."""

    name: str = Field(description="table, bucket:<name> or queue:<name>")
    status: Status
    latency_ms: float = Field(ge=0)
    reason: str | None = Field(default=None, description="Error code when the check failed")


class Readiness(BaseModel):
    status: Status
    checked_at: datetime
    components: list[ComponentStatus]

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.components if c.status == "failed"]


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class StartupCheck(BaseModel):
    name: str
    status: Status
    reason: str | None = None


class Startup(BaseModel):
    status: Status
    checks: list[StartupCheck]


class ComponentSummary(BaseModel):
    name: str
    status: Status
    latency_ms: float | None = Field(default=None, description="Operators only")
    reason: str | None = Field(default=None, description="Operators only")


class HealthSummary(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    commit: str
    stage: str
    components: list[ComponentSummary]
