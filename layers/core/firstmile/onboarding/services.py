"""What the services that show and change users' progress stand on (a user's own onboarding, ``ProgressService``, and
their flow admins', ``FlowAdmin``, who also start users over): the store, the container's published versions, the
flag gates of gated steps, a clock, and the conflict retry of a change made without ``If-Match``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from firstmile.clock import Clock, utc_now
from firstmile.onboarding.gates import FlagGates, NoFlags
from firstmile.onboarding.ports import ConsentLookup, CurrentPolicies, OnboardingStorePort
from firstmile.onboarding.versions import PublishedVersions
from firstmile.platform.versioned import ConflictRetry

T = TypeVar("T")


class OnboardingService:
    """The parts of a service over the store and the shared published versions; without ``gates`` every gating flag
    is unavailable (``NoFlags``)."""

    def __init__(
        self,
        store: OnboardingStorePort,
        versions: PublishedVersions,
        *,
        gates: FlagGates | None = None,
        clock: Clock = utc_now,
        retry: ConflictRetry | None = None,
        consent: ConsentLookup | None = None,
        policies: CurrentPolicies | None = None,
    ) -> None:
        self._store = store
        self._versions = versions
        self._gates = gates or NoFlags()
        self._clock = clock
        self._retry = retry or ConflictRetry()
        self._consent = consent
        self._policies = policies

    def _current_policies(self, tenant: str) -> dict[str, str]:
        """The tenant's current policy versions (none without a policy lookup)."""
        return self._policies.current(tenant) if self._policies is not None else {}

    def _once_or_retried(self, attempt: Callable[[], T], expected_version: int | None) -> T:
        # With If-Match a lost race is the client's to resolve; without it, read again and re-apply.
        return attempt() if expected_version is not None else self._retry(attempt)
