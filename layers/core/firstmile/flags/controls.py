"""The settings around a tenant's flags: its segments (named user lists rules can test), its kill switch (flags, tags
or everything held off within the kill bound) and its evaluation settings (which attributes clients may supply, the
exposure sample rate). Each change is audited in the transaction that makes it."""

from __future__ import annotations

from firstmile import errors as e
from firstmile.audit.events import action_event
from firstmile.clock import Clock, utc_now
from firstmile.flags.admin import existing_flag
from firstmile.flags.models import FlagSettings, Segment
from firstmile.flags.ports import FlagStorePort
from firstmile.flags.shapes import KillSwitchChange, KillSwitchState
from firstmile.observability import logger
from firstmile.platform.cursors import Page


class FlagControls:
    """Segments, the kill switch and the flag settings of a tenant."""

    def __init__(self, store: FlagStorePort, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def list_segments(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Segment]:
        """One page of the tenant's segments."""
        return self._store.list_segments(tenant, limit=limit, cursor=cursor)

    def get_segment(self, tenant: str, key: str) -> Segment:
        """The segment (RES_SEGMENT_NOT_FOUND when absent)."""
        segment = self._store.get_segment(tenant, key)
        if segment is None:
            raise e.DomainError(e.RES_SEGMENT_NOT_FOUND, f"The tenant has no segment {key!r}.")
        return segment

    def put_segment(self, tenant: str, key: str, segment: Segment, actor: str) -> Segment:
        """Create or replace a segment; flags that test it see the change within the kill-switch bound."""
        if segment.key != key:
            raise e.DomainError(
                e.VAL_SEGMENT_KEY_MISMATCH, f"The body describes segment {segment.key!r}, the path {key!r}."
            )
        event = action_event(tenant, actor, "flag.segment.saved", f"segment:{key}", users=len(segment.users))
        return self._store.put_segment(tenant, segment, actor, self._clock(), event=event)

    # --- the kill switch ------------------------------------------------------------------------------------

    def kill_switch(self, tenant: str) -> KillSwitchState:
        """What the kill switch holds off now."""
        return self._store.kill_switch_state(tenant)

    def change_kill_switch(self, tenant: str, change: KillSwitchChange, actor: str) -> KillSwitchState:
        """Kill or revive a flag, a tag or the whole tenant. Killing a flag the tenant does not have is refused
        (a typo must not look like a kill)."""
        if change.flag is not None:
            existing_flag(self._store, tenant, change.flag)
            concerned = [change.flag]
        else:
            flags = self._store.load(tenant).flags.values()
            concerned = [f.key for f in flags if change.all or change.tag in f.tags]
        action = "flag.kill_switch.killed" if change.killed else "flag.kill_switch.revived"
        event = action_event(tenant, actor, action, change.target, reason=change.reason, flags=len(concerned))
        state = self._store.change_kill_switch(tenant, change, actor, self._clock(), concerned=concerned, event=event)
        logger.warning(
            "kill switch changed", extra={"tenant": tenant, "target": change.target, "killed": change.killed}
        )
        return state

    # --- settings ------------------------------------------------------------------------------------------

    def settings(self, tenant: str) -> FlagSettings:
        """The tenant's evaluation settings."""
        return self._store.get_settings(tenant)

    def put_settings(self, tenant: str, settings: FlagSettings, expected: int | None, actor: str) -> FlagSettings:
        """Replace the evaluation settings (at ``expected``, when given). Audit ``flag.settings.updated``."""
        event = action_event(
            tenant,
            actor,
            "flag.settings.updated",
            "flag-settings",
            client_attributes=",".join(settings.client_attributes),
            exposure_sample_rate=settings.exposure_sample_rate,
        )
        return self._store.put_settings(tenant, settings, expected, actor, self._clock(), event=event)
