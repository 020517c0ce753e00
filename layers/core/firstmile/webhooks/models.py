"""Webhook endpoints as admins register them (decision 0093)."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from firstmile.model import Model

ENDPOINT_ID_PATTERN = r"^whe_[A-Za-z0-9_-]{22}$"
MAX_ENDPOINTS = 20
"""A tenant registers at most this many endpoints."""
SECRET_GRACE_HOURS = 24
"""After a rotation, the previous secret keeps signing (next to the new one) this long."""


class EventType(StrEnum):
    """What an endpoint can subscribe to."""

    ONBOARDING_COMPLETED = "onboarding.completed"
    ONBOARDING_STEP_COMPLETED = "onboarding.step_completed"
    FLAG_CHANGED = "flag.changed"
    FLAG_KILLED = "flag.killed"
    ROLLOUT_HALTED = "rollout.halted"
    DSR_COMPLETED = "dsr.completed"
    ANALYTICS_ALERT = "analytics.alert"


def new_endpoint_id() -> str:
    return "whe_" + secrets.token_urlsafe(16)


class EndpointCreate(Model):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048, description="https URL to POST deliveries to")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EventType))
    description: str = Field(default="", max_length=256)


class EndpointUpdate(Model):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2048)
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EventType))
    description: str | None = Field(default=None, max_length=256)
    enabled: bool | None = None


class Endpoint(Model):
    """A registered endpoint (its secret is shown only when created or rotated)."""

    endpoint_id: str
    url: str
    event_types: list[EventType]
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None = None
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="Until then deliveries are signed with the previous secret too"
    )


class EndpointSecret(Model):
    """An endpoint with its signing secret: the only time the secret is shown."""

    endpoint: Endpoint
    secret: str = Field(description="whsec_...: verify deliveries with it (Standard Webhooks)")


class EndpointList(Model):
    items: list[Endpoint]
    total: int
    limit: int = MAX_ENDPOINTS
