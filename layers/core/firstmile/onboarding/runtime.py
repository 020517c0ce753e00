"""The onboarding service wired to this deployment, built once per container."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from firstmile.config import get_settings
from firstmile.identity.runtime import audit_store
from firstmile.onboarding.logic import FlagGate
from firstmile.onboarding.service import OnboardingService
from firstmile.onboarding.store import OnboardingStore
from firstmile.platform import aws


@lru_cache(maxsize=1)
def onboarding_store() -> OnboardingStore:
    settings = get_settings()
    return OnboardingStore(
        aws.table(settings.table_name),
        event_retention_days=settings.onboarding_event_retention_days,
        audit=audit_store(),
    )


@lru_cache(maxsize=1)
def onboarding_service() -> OnboardingService:
    """Flows, progress and migrations; published flow versions are cached for the container's life. Gated steps
    ask the container's flag cache (``FlagService.gate_for``)."""
    return OnboardingService.from_settings(onboarding_store(), gate_for=_flag_gate)


def _flag_gate(tenant: str, user: str, attributes: Mapping[str, str]) -> FlagGate:
    # Imported here: only flows with a gated step evaluate flags, so the others never load the flag package.
    from firstmile.flags.runtime import flag_service

    return flag_service().gate_for(tenant, user, attributes)


def reset_onboarding_runtime() -> None:
    """Forget the cached service (tests switch deployments)."""
    onboarding_service.cache_clear()
    onboarding_store.cache_clear()
    from firstmile.flags.runtime import reset_flags_runtime

    reset_flags_runtime()
