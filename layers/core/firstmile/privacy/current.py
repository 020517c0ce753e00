"""The tenants' current policy versions as the status path asks for them, cached per container (decision 0082).

Light on purpose: a status request loads this and the policy store's read, not the policy models or the admin's
use cases."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

# How long a container trusts the current versions it read: a newly published version reaches every user's status
# within this many seconds.
CURRENT_CACHE_SECONDS = 30.0


class CurrentVersionsSource(Protocol):
    def current_versions(self, tenant: str) -> dict[str, str]: ...


class CurrentPolicyCache:
    """Type -> current version per tenant, read at most every ``CURRENT_CACHE_SECONDS``; a publication made in this
    container forgets its tenant's entry at once."""

    def __init__(self, source: CurrentVersionsSource, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._monotonic = monotonic
        self._entries: dict[str, tuple[dict[str, str], float]] = {}

    def current(self, tenant: str) -> dict[str, str]:
        cached = self._entries.get(tenant)
        now = self._monotonic()
        if cached is not None and now - cached[1] < CURRENT_CACHE_SECONDS:
            return cached[0]
        current = self._source.current_versions(tenant)
        self._entries[tenant] = (current, now)
        return current

    def forget(self, tenant: str) -> None:
        self._entries.pop(tenant, None)
