"""Published flow versions, cached per container: a version never changes once published, so a warm status read is
one ``GetItem`` of the user's progress. One ``PublishedVersions`` is shared by the services of a container (the
composition root builds it once); it also answers the lookups every use case starts from (a flow's draft, its latest
version, the tenant's default flow) with the domain's errors."""

from __future__ import annotations

from collections import OrderedDict

from firstmile import errors
from firstmile.onboarding.models import FlowDraft, FlowVersion
from firstmile.onboarding.ports import OnboardingStorePort

_CACHE_SIZE = 256


class PublishedVersions:
    """The container's published flow versions and the lookups that lead to them."""

    def __init__(self, store: OnboardingStorePort, *, size: int = _CACHE_SIZE) -> None:
        self._store = store
        self._size = size
        self._versions: OrderedDict[tuple[str, str, int], FlowVersion] = OrderedDict()

    def get(self, tenant: str, flow_id: str, version: int) -> FlowVersion:
        """The published version (from the cache when read before); RES_FLOW_VERSION_NOT_FOUND when absent."""
        key = (tenant, flow_id, version)
        cached = self._versions.get(key)
        if cached is not None:
            self._versions.move_to_end(key)
            return cached
        found = self._store.get_version(tenant, flow_id, version)
        if found is None:
            raise errors.DomainError(errors.RES_FLOW_VERSION_NOT_FOUND, f"Flow {flow_id} has no version {version}.")
        self.remember(tenant, found)
        return found

    def remember(self, tenant: str, version: FlowVersion) -> None:
        """Keep a version just published (or read), the least recently used going first when the cache is full."""
        self._versions[(tenant, version.flow_id, version.version)] = version
        while len(self._versions) > self._size:
            self._versions.popitem(last=False)

    def latest(self, tenant: str, flow_id: str) -> FlowVersion:
        """The flow's newest published version; RES_FLOW_NOT_FOUND, or BIZ_FLOW_NOT_PUBLISHED before its first."""
        draft = self.draft(tenant, flow_id)
        if not draft.latest_published_version:
            raise errors.DomainError(errors.BIZ_FLOW_NOT_PUBLISHED, f"Flow {flow_id} has no published version yet.")
        return self.get(tenant, flow_id, draft.latest_published_version)

    def default_flow_id(self, tenant: str) -> str:
        """The flow new users enrol on; BIZ_NO_DEFAULT_FLOW when the tenant has not chosen one."""
        default = self._store.get_default(tenant)
        if default is None:
            raise errors.DomainError(errors.BIZ_NO_DEFAULT_FLOW, "The tenant has not chosen a default onboarding flow.")
        return default.flow_id

    def draft(self, tenant: str, flow_id: str) -> FlowDraft:
        """The flow's draft (read, never cached: admins edit it); RES_FLOW_NOT_FOUND when there is no such flow."""
        draft = self._store.get_draft(tenant, flow_id)
        if draft is None:
            raise errors.DomainError(errors.RES_FLOW_NOT_FOUND, f"There is no flow {flow_id}.")
        return draft
