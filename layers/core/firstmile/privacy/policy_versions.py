"""Policy versions as admins publish them and as the status path asks for the current ones (decision 0082)."""

from __future__ import annotations

from firstmile import errors as e
from firstmile.audit.events import action_event
from firstmile.clock import Clock, utc_now
from firstmile.privacy.current import CurrentPolicyCache
from firstmile.privacy.policies import Policies, PolicyPublish, PolicyVersion
from firstmile.privacy.ports import PolicyStorePort


class PolicyVersions:
    """Publish and list a tenant's policy versions; a publication makes the container's cache of current versions
    (``cache``, which the status path reads) forget the tenant."""

    def __init__(
        self, store: PolicyStorePort, *, cache: CurrentPolicyCache | None = None, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._cache = cache or CurrentPolicyCache(store)
        self._clock = clock

    def publish(self, tenant: str, policy: PolicyPublish, actor: str) -> PolicyVersion:
        """Publish ``policy`` as its type's current version (RES_POLICY_VERSION_EXISTS when that version exists)."""
        published = PolicyVersion(**policy.model_dump(), published_at=self._clock(), published_by=actor)
        target = f"policy:{policy.type.value}:{policy.version}"
        event = action_event(tenant, actor, "compliance.policy.published", target)
        if not self._store.publish(tenant, published, event=event):
            raise e.DomainError(
                e.RES_POLICY_VERSION_EXISTS, f"Version {policy.version} of the {policy.type.value} is published."
            )
        self._cache.forget(tenant)
        return published

    def policies(self, tenant: str) -> Policies:
        """The current version of each type and every version, newest first."""
        versions = self._store.versions(tenant)
        current: dict[str, PolicyVersion] = {}
        for version in versions:
            current.setdefault(version.type.value, version)
        return Policies.model_validate({"current": current, "history": versions})

    def current(self, tenant: str) -> dict[str, str]:
        """Type -> current version, from the container's cache."""
        return self._cache.current(tenant)
