"""Users who stopped: the daily job finds users in onboarding idle longer than their tenant's window and marks them
dropped at the step they stopped at (decision 0072).

- ``find`` (the scheduled job): reads the idle index (``gsi3``) day by day and shard by shard, over the days a
  window can reach, never a Scan. Users whose last change is older than their tenant's ``idle_days`` go to the
  ``onboarding-drops`` queue, ``DROP_BATCH`` to a message, with the day before which a user counts as idle.
- ``drop`` (the queue's consumer): reads each user's progress again and drops those still idle, each in one
  conditional transaction with its ``dropped`` event. A user who changed anything since is left alone; a message
  delivered twice drops nobody twice (a dropped user leaves the index and ``logic.drop`` is a no-op for them).

A dropped user's next change writes ``returned`` first (``logic.returned``), which takes the drop back in analytics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Protocol

from firstmile.audit.events import action_event
from firstmile.clock import Clock, utc_now
from firstmile.onboarding import logic
from firstmile.onboarding.models import OnboardingSettings
from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.store import IDLE_SHARDS, ProgressConflictError
from firstmile.onboarding.versions import PublishedVersions

log = logging.getLogger(__name__)

# The longest window a tenant may set (OnboardingSettings.idle_days), and how far back the job reads beyond it:
# users idle since before a window was shortened, or since an outage of the job, are still found.
MAX_IDLE_DAYS = 90
LOOKBACK_DAYS = MAX_IDLE_DAYS + 30
DROP_BATCH = 25


class Messages(Protocol):
    def send(self, messages: list[dict[str, Any]]) -> None: ...


class IdleUsers:
    """The idle job and the drop queue's consumer, and the settings that give each tenant its window."""

    def __init__(
        self,
        store: OnboardingStorePort,
        versions: PublishedVersions,
        queue: Messages,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._versions = versions
        self._queue = queue
        self._clock = clock

    # --- settings --------------------------------------------------------------------------------------------

    def settings(self, tenant: str) -> OnboardingSettings:
        return self._store.get_settings(tenant)

    def set_settings(self, tenant: str, settings: OnboardingSettings, actor: str) -> OnboardingSettings:
        """Replace the tenant's settings. Audit ``onboarding.settings.changed`` with the window before and after."""
        before = self._store.get_settings(tenant)
        event = action_event(
            tenant,
            actor,
            "onboarding.settings.changed",
            "onboarding:settings",
            idle_days_before=before.idle_days,
            idle_days=settings.idle_days,
        )
        return self._store.set_settings(tenant, settings, event=event)

    # --- the job ---------------------------------------------------------------------------------------------

    def find(self) -> dict[str, int]:
        """Queue every user idle longer than their tenant's window; what was read and sent."""
        today = self._clock().date()
        windows: dict[str, int] = {}
        due: dict[str, list[str]] = {}
        listed = 0
        for back in range(LOOKBACK_DAYS, 1, -1):
            day = today - timedelta(days=back)
            for shard in range(IDLE_SHARDS):
                for tenant, user in self._store.list_idle(day, shard):
                    listed += 1
                    if tenant not in windows:
                        windows[tenant] = self._store.get_settings(tenant).idle_days
                    if day < today - timedelta(days=windows[tenant]):
                        due.setdefault(tenant, []).append(user)
        messages = [
            {
                "tenant": tenant,
                "users": sorted(users)[n : n + DROP_BATCH],
                "idle_before": (today - timedelta(days=windows[tenant])).isoformat(),
            }
            for tenant, users in sorted(due.items())
            for n in range(0, len(users), DROP_BATCH)
        ]
        if messages:
            self._queue.send(messages)
        return {"listed": listed, "due": sum(len(u) for u in due.values()), "messages": len(messages)}

    # --- the queue's consumer --------------------------------------------------------------------------------

    def drop(self, message: Mapping[str, Any]) -> dict[str, int]:
        """Drop the message's users who are still idle; how many were dropped and left alone."""
        tenant, cutoff = str(message["tenant"]), date.fromisoformat(str(message["idle_before"]))
        dropped = kept = 0
        for user in message["users"]:
            progress = self._store.get_progress(tenant, str(user))
            if progress is None or progress.updated_at.date() >= cutoff or progress.restricted:
                kept += 1  # gone, back since the job listed them, or processing restricted (Article 18)
                continue
            now = self._clock()
            flow = self._versions.get(tenant, progress.flow_id, progress.flow_version)
            transition = logic.drop(progress, flow, now, idle_days=(now.date() - progress.updated_at.date()).days)
            try:
                self._store.write_transition(transition)
            except ProgressConflictError:
                kept += 1  # they changed something this very moment: not idle
                continue
            if transition.changed:
                dropped += 1
            else:
                kept += 1
        log.info("idle users handled", extra={"tenant": tenant, "dropped": dropped, "kept": kept})
        return {"dropped": dropped, "kept": kept}
