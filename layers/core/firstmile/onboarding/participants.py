"""A flow's recent participants, for whoever measures them (a flag rollout's guard asks through its own protocol,
``flags.ports.FlowParticipants``, which this satisfies without onboarding importing flags)."""

from __future__ import annotations

from datetime import datetime

from firstmile.onboarding.models import Enrolment, UsersOnVersion
from firstmile.onboarding.ports import OnboardingStorePort

_PAGE = 200


class RecentParticipants:
    """A flow's recently enrolled users, read from the users-per-version index."""

    def __init__(self, store: OnboardingStorePort, *, page_size: int = _PAGE) -> None:
        self._store = store
        self._page_size = page_size

    def recent_participants(self, tenant: str, flow_id: str, since: datetime, limit: int) -> list[Enrolment]:
        """Up to ``limit`` users' enrolments on a flow who enrolled at or after ``since``, from its latest published
        version back to its first: one Query of the users-per-version index (in enrolment order) per page (a
        rollout guard's sample). Users enrolled earlier are never read."""
        draft = self._store.get_draft(tenant, flow_id)
        found: list[Enrolment] = []
        version = draft.latest_published_version if draft else None
        while version and len(found) < limit:
            start = None
            while len(found) < limit:
                page, start = self._store.list_enrolments(
                    UsersOnVersion(tenant, flow_id, version, enrolled_since=since),
                    limit=min(self._page_size, limit - len(found)),
                    start_key=start,
                )
                found.extend(p for p in page if p.flow_id == flow_id and p.flow_version == version)
                if start is None:
                    break
            version -= 1
        return found
