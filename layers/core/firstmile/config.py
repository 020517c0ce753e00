"""Deployment configuration, read from the environment on first use, never at import.

Every function of a deployment shares one settings model. CDK and the local stack set the same variables
(prefix ``FIRSTMILE_``), so a handler behaves the same in both places. Importing a handler must not need any
environment variable; only calling ``get_settings()`` reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, get_origin

from pydantic import ConfigDict, Field, SecretStr

from firstmile.limits.models import RouteClass
from firstmile.model import Model
from firstmile.roles import Role

ENV_PREFIX = "FIRSTMILE_"
_STRUCTURED = (dict, list, tuple)


class Settings(Model):
    """What a function needs to know about the deployment it runs in.

    A plain pydantic model filled from ``FIRSTMILE_*`` variables by ``from_environment`` rather than a
    pydantic-settings class: the loader is a dozen lines, and pydantic-settings alone added about a third to every
    function's cold import (docs/decisions/0004-settings-without-pydantic-settings.md).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str = "local"
    version: str = "0.1.0"
    commit: str = "unknown"
    table_name: str = "firstmile"
    exports_bucket: str = "firstmile-exports"
    # Where the table-stream consumers' failed batches are kept, whole (Lambda's on-failure destination).
    stream_failures_bucket: str = "firstmile-stream-failures"
    # The analytics archive of transition events (decision 0073).
    archive_bucket: str = "firstmile-archive"
    # Logical queue name -> queue URL, for the queues a function may use or report on.
    queue_urls: dict[str, str] = Field(default_factory=dict)
    # The dead-letter collector's: work queue (logical name) -> the function consuming it (decision 0091).
    queue_consumers: dict[str, str] = Field(default_factory=dict)
    cors_allow_origins: tuple[str, ...] = ()
    # The role the route served by this function requires; set per function from the catalogue.
    route_role: Role = "public"
    # A second role the route admits (the dead-letter routes: admins and operators); from the catalogue.
    route_also_role: Role | None = None
    # The rate-limit class the route is counted in, if any; from the catalogue.
    route_rate_class: RouteClass | None = None
    # Signs pagination cursors (docs/decisions/0041-signed-cursors.md); the same for every function of a deployment.
    cursor_key: SecretStr | None = Field(default=None, min_length=32)
    idempotency_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # A dependency check slower than this counts as failed for readiness.
    dependency_timeout_seconds: float = Field(default=2.0, gt=0, le=10)

    # Identity and rate limits (docs/decisions/0010-0016).
    # The signing keys live in this Secrets Manager secret (KMS-encrypted); its name, not a secret.
    signing_keys_secret: str = "firstmile-signing-keys"  # noqa: S105
    issuer: str = "urn:firstmile:local"
    audience: str = "urn:firstmile:api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=900)
    # A session (refresh-token family) ends this long after it started, however often it is refreshed.
    refresh_absolute_lifetime_seconds: int = Field(default=30 * 24 * 3600, ge=3600, le=90 * 24 * 3600)
    # ...or this long after its last refresh, whichever comes first.
    refresh_idle_timeout_seconds: int = Field(default=7 * 24 * 3600, ge=300, le=90 * 24 * 3600)
    # How long the token just rotated away answers "superseded" instead of counting as reuse.
    refresh_overlap_seconds: int = Field(default=5, ge=0, le=10)
    # How stale a verifier's view of a user's revocations may be: the stated revocation bound.
    revocation_cache_seconds: int = Field(default=5, ge=0, le=60)
    # A new signing key is published this long before it signs anything.
    key_publish_ahead_seconds: int = Field(default=3600, ge=300, le=7 * 24 * 3600)
    # The current signing key is replaced after this many days.
    key_rotation_days: int = Field(default=30, ge=1, le=365)
    # After a client secret is rotated, the old secret keeps working this long.
    client_secret_grace_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    # Per route class, a limit replacing the default (requests per window), e.g. {"user_write": 40}.
    rate_limit_overrides: dict[str, int] = Field(default_factory=dict)

    # Onboarding (docs/decisions/0050-0055).
    # Transition events are kept this long under the user's partition, then removed by TTL.
    onboarding_event_retention_days: int = Field(default=400, ge=1, le=3650)
    # Generated sample users (their progress and events) are removed by TTL after this many days.
    sample_user_ttl_days: int = Field(default=7, ge=1, le=90)
    # A dry run of a migration examines at most this many users on the source version.
    migration_dry_run_max_users: int = Field(default=1000, ge=10, le=10_000)

    # Privacy (decision 0083): where erasure codes go. Locally, a JSON-lines outbox file; deployed, SES from this
    # sender address (a verified SES identity of the deployment's account).
    notifier_outbox: str = ""
    notifier_sender: str = "privacy@example.com"
    # Webhooks (decision 0093): the local stack sends to loopback addresses, so the demo receives its own webhooks;
    # a deployment never does.
    webhooks_allow_loopback: bool = False
    # A closed privacy request is kept this long (the proof it was answered in time), then deleted (decision 0085).
    privacy_request_retention_days: int = Field(default=1095, ge=1, le=3650)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``FIRSTMILE_<FIELD>`` variables; dicts and lists are given as JSON.

        A value that is not valid JSON is passed on as text, so validation fails naming the field.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None:
                continue
            if get_origin(field.annotation) in _STRUCTURED or field.annotation in _STRUCTURED:
                try:
                    values[name] = json.loads(raw)
                    continue
                except ValueError:
                    pass
            values[name] = raw
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The deployment settings, read once per container."""
    return Settings.from_environment()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
