"""The flag service wired to this deployment, built once per container: every function of the container evaluates
through the same ``FlagSetCache``."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from firstmile.config import get_settings
from firstmile.flags.cache import FlagSetCache
from firstmile.identity.runtime import audit_store
from firstmile.platform import aws

# The service and the store are imported when first built (decision 0045): importing this module stays cheap.
if TYPE_CHECKING:
    from firstmile.flags.service import FlagService
    from firstmile.flags.store import FlagStore
    from firstmile.onboarding.models import Enrolment

_GUARD_PAGE = 200


@lru_cache(maxsize=1)
def flag_store() -> FlagStore:
    from firstmile.flags.store import FlagStore

    return FlagStore(aws.table(get_settings().table_name), audit=audit_store())


@lru_cache(maxsize=1)
def flag_cache() -> FlagSetCache:
    """The container's flag sets: the epoch checked at most every second, 4 s of outage tolerated (decision 0062)."""
    return FlagSetCache(flag_store())


@lru_cache(maxsize=1)
def flag_service() -> FlagService:
    from firstmile.flags.service import FlagService
    from firstmile.platform.queues import JsonQueue
    from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE

    return FlagService(
        flag_store(),
        flag_cache(),
        exposures=JsonQueue(FLAG_EXPOSURES_QUEUE),
        guard_users=flow_users,
    )


def flow_users(tenant: str, flow_id: str, since: datetime, limit: int) -> list[Enrolment]:
    """Up to ``limit`` users' enrolments on a flow who enrolled at or after ``since``, from its latest published
    version back to its first: one Query of the users-per-version index (in enrolment order) per page of 200 (a
    rollout guard's sample). Users enrolled earlier are never read."""
    from firstmile.onboarding.runtime import onboarding_store  # onboarding's runtime uses flags for its gate

    store = onboarding_store()
    draft = store.get_draft(tenant, flow_id)
    found: list[Enrolment] = []
    version = draft.latest_published_version if draft else None
    while version and len(found) < limit:
        start = None
        while len(found) < limit:
            page, start = store.list_enrolments(
                tenant,
                flow_id,
                version,
                limit=min(_GUARD_PAGE, limit - len(found)),
                start_key=start,
                enrolled_since=since,
            )
            found.extend(p for p in page if p.flow_id == flow_id and p.flow_version == version)
            if start is None:
                break
        version -= 1
    return found


def reset_flags_runtime() -> None:
    """Forget the cached service, cache and store (tests switch deployments)."""
    flag_service.cache_clear()
    flag_cache.cache_clear()
    flag_store.cache_clear()
