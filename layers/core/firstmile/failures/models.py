"""A failure record: one message (or scheduled run) that failed, as often as it failed (decision 0090)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from firstmile.model import Model

MAX_TEXT = 4000
"""A message or traceback is kept to this many characters (its end, where the error is)."""


class Failure(Model):
    """One failed attempt, as the consumer saw it."""

    model_config = ConfigDict(frozen=True)

    task: str = Field(description="The function that failed, e.g. flag_exposure_worker")
    source: str = Field(description="Where the work came from: queue:<name>, or schedule:<function>")
    message_id: str
    exception_type: str
    message: str = Field(description="The exception's text, secrets redacted")
    traceback: str = Field(description="Secrets redacted, the innermost frames kept")
    attempt: int = Field(ge=1, description="Which delivery this was (SQS ApproximateReceiveCount)")
    at: datetime
    payload: Any = Field(default=None, description="The message body, secrets redacted")
    tenant: str | None = None


class FailureRecord(Model):
    """Every failed attempt of one message, as kept."""

    task: str
    source: str
    message_id: str
    exception_type: str
    message: str
    traceback: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    payload: Any = None
    tenant: str | None = None
