"""What the flag services need of storage, as a protocol: ``FlagStore`` (the table) implements it, and so does the
unit tests' in-memory fake; both pass the same contract suite (tests/contracts/flags.py). It is also the
``FlagSetSource`` the container's ``FlagSetCache`` reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from firstmile.audit.models import AuditEvent
from firstmile.flags.cache import FlagEpoch
from firstmile.flags.history import FlagHistoryEntry
from firstmile.flags.models import Flag, FlagSet, FlagSettings, KillSwitch, Segment
from firstmile.flags.rollout import Participant, RolloutPlan
from firstmile.flags.shapes import ExposureCount, KillSwitchChange, KillSwitchEvent, KillSwitchState
from firstmile.platform.cursors import Page


class FlagStorePort(Protocol):
    """A tenant's flags with their history, segments, kill switch, settings, rollout plans and exposure counts. Every
    change of a flag or segment adds one to the epoch's version; audited changes store their ``event`` with them."""

    # --- flags ---------------------------------------------------------------------------------------------

    def create_flag(self, tenant: str, flag: Flag, actor: str, at: datetime, *, event: AuditEvent) -> Flag:
        """Store a new flag as version 1 with its first history entry; ``FlagExistsError`` with the stored flag."""
        ...

    def get_flag(self, tenant: str, key: str) -> Flag | None:
        """The flag as stored now."""
        ...

    def replace_flag(
        self,
        tenant: str,
        flag: Flag,
        expected_version: int,
        actor: str,
        at: datetime,
        *,
        event: AuditEvent,
        also: Sequence[dict[str, Any]] = (),
    ) -> Flag:
        """Store ``flag`` as version ``expected_version + 1`` with its diff; ``FlagConflictError`` with the stored flag
        when another version is stored (or a write of ``also`` is refused), ``NotFoundError`` when there is no such
        flag. ``also``: writes from ``plan_writes`` that go with it, all or nothing."""
        ...

    def list_flags(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Flag]:
        """A page of the tenant's flags in key order, archived ones included."""
        ...

    def history(self, tenant: str, key: str, *, limit: int, cursor: str | None) -> Page[FlagHistoryEntry]:
        """A page of the flag's versions, newest first."""
        ...

    def get_history_version(self, tenant: str, key: str, version: int) -> FlagHistoryEntry | None:
        """One version of a flag."""
        ...

    def history_entries(self, tenant: str, key: str) -> list[FlagHistoryEntry]:
        """Every version of a flag, oldest first."""
        ...

    def rewrite_history_entry(self, tenant: str, entry: FlagHistoryEntry, *, event: AuditEvent | None = None) -> None:
        """Replace a stored version's flag and diff (erasure only); ``NotFoundError`` when the version has gone."""
        ...

    # --- segments ------------------------------------------------------------------------------------------

    def put_segment(self, tenant: str, segment: Segment, actor: str, at: datetime, *, event: AuditEvent) -> Segment:
        """Create or replace a segment; the last writer wins."""
        ...

    def get_segment(self, tenant: str, key: str) -> Segment | None:
        """The segment as stored now."""
        ...

    def list_segments(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Segment]:
        """A page of the tenant's segments in key order."""
        ...

    # --- rollout plans -------------------------------------------------------------------------------------

    def plan_writes(self, tenant: str, plan: RolloutPlan, expected_version: int | None) -> list[dict[str, Any]]:
        """The writes that store ``plan`` if its stored version is ``expected_version`` (``None``: if no active plan
        is stored), for ``replace_flag(also=...)``. Opaque to callers."""
        ...

    def put_plan(
        self, tenant: str, plan: RolloutPlan, expected_version: int | None, *, event: AuditEvent | None = None
    ) -> RolloutPlan:
        """Store ``plan`` alone, on the same condition; ``VersionConflictError`` with the stored plan otherwise."""
        ...

    def get_plan(self, tenant: str, key: str) -> RolloutPlan | None:
        """The flag's rollout plan, the last one if it ended."""
        ...

    def active_plans(self) -> list[tuple[str, str]]:
        """(tenant, flag key) of every active plan of the deployment."""
        ...

    # --- exposures -----------------------------------------------------------------------------------------

    def add_exposures(
        self, tenant: str, event_id: str, counts: Mapping[tuple[str, str, str], tuple[int, float]], now: datetime
    ) -> bool:
        """Add one exposure event's counts, ``(flag, day, variant) -> (events, estimated evaluations)``, exactly once;
        ``False`` when the event had been counted before."""
        ...

    def exposure_counts(self, tenant: str, key: str, since: date) -> list[ExposureCount]:
        """The flag's exposure counts per day and variant from ``since`` on, in day then variant order."""
        ...

    # --- the epoch and the kill switch ---------------------------------------------------------------------

    def set_kill_switch(
        self, tenant: str, kill_switch: KillSwitch, actor: str, at: datetime, *, event: AuditEvent | None = None
    ) -> KillSwitch:
        """Replace the tenant's whole kill-switch state; the epoch version stays."""
        ...

    def change_kill_switch(
        self,
        tenant: str,
        change: KillSwitchChange,
        actor: str,
        at: datetime,
        *,
        concerned: Sequence[str],
        event: AuditEvent,
    ) -> KillSwitchState:
        """Kill or revive one flag, one tag or everything, logged for the ``concerned`` flags; the state after."""
        ...

    def kill_switch_changes(self, tenant: str, key: str, *, limit: int) -> list[KillSwitchEvent]:
        """The newest ``limit`` kill-switch changes that concerned the flag, newest first."""
        ...

    def kill_switch_state(self, tenant: str) -> KillSwitchState:
        """What is killed in the tenant now, and who changed it last."""
        ...

    def get_settings(self, tenant: str) -> FlagSettings:
        """The tenant's flag settings (the defaults, version 0, before the first change)."""
        ...

    def put_settings(
        self,
        tenant: str,
        settings: FlagSettings,
        expected_version: int | None,
        actor: str,
        at: datetime,
        *,
        event: AuditEvent,
    ) -> FlagSettings:
        """Replace the settings as version ``expected_version + 1`` (``None``: on whatever is stored);
        ``VersionConflictError`` with the stored settings when another change came first."""
        ...

    def epoch(self, tenant: str) -> FlagEpoch | None:
        """The flag set's version, kill switch and settings, read strongly consistent; ``None`` before anything."""
        ...

    def load(self, tenant: str) -> FlagSet:
        """The tenant's whole flag set, holding at least the changes its ``version`` counts."""
        ...


class FlowParticipants(Protocol):
    """What a rollout's guard asks of onboarding (which implements it): the users of a flow who enrolled recently."""

    def recent_participants(self, tenant: str, flow_id: str, since: datetime, limit: int) -> Sequence[Participant]:
        """Up to ``limit`` users of ``flow_id`` who enrolled at or after ``since``, newest flow versions first."""
        ...
