"""Deployment configuration, read from the environment on first use, never at import.

Every function of a deployment shares one settings model. CDK and the local stack set the same variables
(prefix ``FIRSTMILE_``), so a handler behaves the same in both places. Importing a handler must not need any
environment variable; only calling ``get_settings()`` reads them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["public", "user", "admin", "operator"]


class Settings(BaseSettings):
    """What a function needs to know about the deployment it runs in."""

    model_config = SettingsConfigDict(env_prefix="FIRSTMILE_", extra="ignore", frozen=True)

    stage: str = "local"
    version: str = "0.1.0"
    commit: str = "unknown"
    table_name: str = "firstmile"
    exports_bucket: str = "firstmile-exports"
    # Logical queue name -> queue URL, for the queues a function may use or report on.
    queue_urls: dict[str, str] = Field(default_factory=dict)
    cors_allow_origins: tuple[str, ...] = ()
    # The role the route served by this function requires; set per function from the catalogue.
    route_role: Role = "public"
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The deployment settings, read once per container."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
