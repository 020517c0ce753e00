"""Policy versions as admins publish them and as the status path asks for the current ones (decision 0082)."""

from __future__ import annotations

import time
from collections.abc import Callable

from firstmile import errors as e
from firstmile.audit.events import action_event
from firstmile.clock import Clock, utc_now
from firstmile.privacy.policies import Policies, PolicyPublish, PolicyVersion
from firstmile.privacy.ports import PolicyStorePort

# How long a container trusts the current versions it read: a newly published version reaches every user's status
# within this many seconds.
CURRENT_CACHE_SECONDS = 30.0


class PolicyVersions:
    """Publish and list a tenant's policy versions; the current versions, cached per container."""

    def __init__(
        self,
        store: PolicyStorePort,
        *,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._current: dict[str, tuple[dict[str, str], float]] = {}

    def publish(self, tenant: str, policy: PolicyPublish, actor: str) -> PolicyVersion:
        """Publish ``policy`` as its type's current version (RES_POLICY_VERSION_EXISTS when that version exists)."""
        published = PolicyVersion(**policy.model_dump(), published_at=self._clock(), published_by=actor)
        target = f"policy:{policy.type.value}:{policy.version}"
        event = action_event(tenant, actor, "compliance.policy.published", target)
        if not self._store.publish(tenant, published, event=event):
            raise e.DomainError(
                e.RES_POLICY_VERSION_EXISTS, f"Version {policy.version} of the {policy.type.value} is published."
            )
        self._current.pop(tenant, None)
        return published

    def policies(self, tenant: str) -> Policies:
        """The current version of each type and every version, newest first."""
        versions = self._store.versions(tenant)
        current: dict[str, PolicyVersion] = {}
        for version in versions:
            current.setdefault(version.type.value, version)
        return Policies.model_validate({"current": current, "history": versions})

    def current(self, tenant: str) -> dict[str, str]:
        """Type -> current version; read at most every ``CURRENT_CACHE_SECONDS`` per container."""
        cached = self._current.get(tenant)
        now = self._monotonic()
        if cached is not None and now - cached[1] < CURRENT_CACHE_SECONDS:
            return cached[0]
        current = {kind.value: version.version for kind, version in self.policies(tenant).current.items()}
        self._current[tenant] = (current, now)
        return current
