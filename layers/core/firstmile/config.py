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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The deployment settings, read once per container."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
