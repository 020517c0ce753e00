"""In-memory feature-flag storage: flags with history, segments, the epoch (version, kill switch, settings), rollout
plans and exposure counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from firstmile.audit.models import AuditEvent
from firstmile.errors import NotFoundError, VersionConflictError
from firstmile.flags.cache import FlagEpoch
from firstmile.flags.history import FlagHistoryEntry, flag_diff
from firstmile.flags.models import Flag, FlagSet, FlagSettings, KillSwitch, Segment
from firstmile.flags.rollout import RolloutPlan, RolloutStatus
from firstmile.flags.shapes import ExposureCount, KillSwitchChange, KillSwitchEvent, KillSwitchState
from firstmile.flags.store import FlagConflictError, FlagExistsError
from firstmile.platform.cursors import Page
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.paging import page_of
from tests.fakes.storage import stored

_PLAN_WRITE = "fake-plan-write"
_COUNTERS_PER_PART = 99


R = TypeVar("R")


@dataclass
class _Epoch:
    version: int = 0
    kill_switch: KillSwitch = field(default_factory=KillSwitch)
    settings: FlagSettings = field(default_factory=FlagSettings)
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass
class _Tenant:
    epoch: _Epoch | None = None
    flags: dict[str, Flag] = field(default_factory=dict)
    history: dict[tuple[str, int], FlagHistoryEntry] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    kills: list[tuple[str, KillSwitchEvent]] = field(default_factory=list)
    plans: dict[str, RolloutPlan] = field(default_factory=dict)
    exposures: dict[tuple[str, str, str], tuple[int, Decimal]] = field(default_factory=dict)
    exposure_parts: set[tuple[str, int]] = field(default_factory=set)


class FakeFlagStore(AuditedFake):
    """``FlagStorePort`` in memory; audited changes append to ``audit`` under its lock, with the change."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self._tenants: dict[str, _Tenant] = {}

    # --- flags ---------------------------------------------------------------------------------------------

    def create_flag(self, tenant: str, flag: Flag, actor: str, at: datetime, *, event: AuditEvent) -> Flag:
        self.faults.enter("create_flag")
        with self._lock:
            data = self._of(tenant)
            if flag.key in data.flags or self.faults.conflicts("create_flag"):
                raise FlagExistsError(data.flags.get(flag.key))
            created = stored(flag.model_copy(update={"version": 1}))
            self._write_flag(tenant, created, None, actor, at)
            self.audit.record(event)
            return created

    def get_flag(self, tenant: str, key: str) -> Flag | None:
        self.faults.enter("get_flag")
        return self._of(tenant).flags.get(key)

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
        self.faults.enter("replace_flag")
        with self._lock:
            data = self._of(tenant)
            previous = data.flags.get(flag.key)
            if previous is None:
                raise NotFoundError(f"flag {flag.key}")
            if previous.version != expected_version or self.faults.conflicts("replace_flag"):
                raise FlagConflictError(previous)
            if not all(self._plan_condition_holds(tenant, write) for write in also):
                raise FlagConflictError(previous)
            replaced = stored(flag.model_copy(update={"version": expected_version + 1}))
            self._write_flag(tenant, replaced, previous, actor, at)
            for write in also:
                self._store_plan(tenant, write["plan"])
            self.audit.record(event)
            return replaced

    def list_flags(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Flag]:
        self.faults.enter("list_flags")
        items, next_cursor = self._in_key_order(tenant, "flags", lambda data: data.flags, limit, cursor)
        return Page[Flag](items=items, next_cursor=next_cursor)

    def history(self, tenant: str, key: str, *, limit: int, cursor: str | None) -> Page[FlagHistoryEntry]:
        self.faults.enter("history")
        entries = list(reversed(self._entries(tenant, key)))
        items, next_cursor = page_of(
            entries,
            lambda e: f"{e.version:08d}",
            scope=f"history|{tenant}|{key}",
            limit=limit,
            cursor=cursor,
            descending=True,
        )
        return Page[FlagHistoryEntry](items=items, next_cursor=next_cursor)

    def get_history_version(self, tenant: str, key: str, version: int) -> FlagHistoryEntry | None:
        self.faults.enter("get_history_version")
        return self._of(tenant).history.get((key, version))

    def history_entries(self, tenant: str, key: str) -> list[FlagHistoryEntry]:
        self.faults.enter("history_entries")
        return self._entries(tenant, key)

    def rewrite_history_entry(self, tenant: str, entry: FlagHistoryEntry, *, event: AuditEvent | None = None) -> None:
        self.faults.enter("rewrite_history_entry")
        with self._lock:
            data = self._of(tenant)
            current = data.history.get((entry.key, entry.version))
            if current is None:
                raise NotFoundError(f"version {entry.version} of flag {entry.key}")
            data.history[(entry.key, entry.version)] = current.model_copy(
                update={"flag": stored(entry.flag), "diff": list(entry.diff)}
            )
            if event is not None:
                self.audit.record(event)

    # --- segments ------------------------------------------------------------------------------------------

    def put_segment(self, tenant: str, segment: Segment, actor: str, at: datetime, *, event: AuditEvent) -> Segment:
        self.faults.enter("put_segment")
        with self._lock:
            self._of(tenant).segments[segment.key] = stored(segment)
            self._bump(tenant)
            self.audit.record(event)
        return segment

    def get_segment(self, tenant: str, key: str) -> Segment | None:
        self.faults.enter("get_segment")
        return self._of(tenant).segments.get(key)

    def list_segments(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Segment]:
        self.faults.enter("list_segments")
        items, next_cursor = self._in_key_order(tenant, "segments", lambda data: data.segments, limit, cursor)
        return Page[Segment](items=items, next_cursor=next_cursor)

    def _in_key_order(
        self, tenant: str, kind: str, records: Callable[[_Tenant], dict[str, R]], limit: int, cursor: str | None
    ) -> tuple[list[R], str | None]:
        """One page of the tenant's ``records`` of ``kind`` (flags, segments) in key order, as the store lists them."""
        with self._lock:
            keyed = sorted(records(self._of(tenant)).items())
        chosen, next_cursor = page_of(
            keyed, lambda entry: entry[0], scope=f"{kind}|{tenant}", limit=limit, cursor=cursor
        )
        return [record for _, record in chosen], next_cursor

    # --- rollout plans -------------------------------------------------------------------------------------

    def plan_writes(self, tenant: str, plan: RolloutPlan, expected_version: int | None) -> list[dict[str, Any]]:
        return [{_PLAN_WRITE: tenant, "plan": stored(plan), "expected": expected_version}]

    def put_plan(
        self, tenant: str, plan: RolloutPlan, expected_version: int | None, *, event: AuditEvent | None = None
    ) -> RolloutPlan:
        self.faults.enter("put_plan")
        with self._lock:
            [write] = self.plan_writes(tenant, plan, expected_version)
            if not self._plan_condition_holds(tenant, write) or self.faults.conflicts("put_plan"):
                current = self._of(tenant).plans.get(plan.flag_key)
                raise VersionConflictError(
                    current.model_dump(mode="json") if current else None, current.version if current else None
                )
            self._store_plan(tenant, write["plan"])
            if event is not None:
                self.audit.record(event)
        return plan

    def get_plan(self, tenant: str, key: str) -> RolloutPlan | None:
        self.faults.enter("get_plan")
        return self._of(tenant).plans.get(key)

    def active_plans(self) -> list[tuple[str, str]]:
        self.faults.enter("active_plans")
        with self._lock:
            return sorted(
                (tenant, key)
                for tenant, data in self._tenants.items()
                for key, plan in data.plans.items()
                if plan.status is RolloutStatus.ACTIVE
            )

    # --- exposures -----------------------------------------------------------------------------------------

    def add_exposures(
        self, tenant: str, event_id: str, counts: Mapping[tuple[str, str, str], tuple[int, float]], now: datetime
    ) -> bool:
        self.faults.enter("add_exposures")
        keys = sorted(counts)
        counted = False
        with self._lock:
            data = self._of(tenant)
            for part, start in enumerate(range(0, max(1, len(keys)), _COUNTERS_PER_PART)):
                if (event_id, part) in data.exposure_parts:
                    continue
                data.exposure_parts.add((event_id, part))
                for key in keys[start : start + _COUNTERS_PER_PART]:
                    sampled, estimated = counts[key]
                    before = data.exposures.get(key, (0, Decimal(0)))
                    data.exposures[key] = (before[0] + sampled, before[1] + Decimal(str(round(estimated, 3))))
                counted = True
        return counted

    def exposure_counts(self, tenant: str, key: str, since: date) -> list[ExposureCount]:
        self.faults.enter("exposure_counts")
        with self._lock:
            chosen = sorted(
                (day, variant, sampled, estimated)
                for (flag, day, variant), (sampled, estimated) in self._of(tenant).exposures.items()
                if flag == key and day >= since.isoformat()
            )
        return [
            ExposureCount(day=date.fromisoformat(day), variant=variant, sampled=sampled, estimated=float(estimated))
            for day, variant, sampled, estimated in chosen
        ]

    # --- the epoch and the kill switch ---------------------------------------------------------------------

    def set_kill_switch(
        self, tenant: str, kill_switch: KillSwitch, actor: str, at: datetime, *, event: AuditEvent | None = None
    ) -> KillSwitch:
        self.faults.enter("set_kill_switch")
        with self._lock:
            epoch = self._epoch(tenant)
            epoch.kill_switch, epoch.updated_at, epoch.updated_by = kill_switch, at, actor
            if event is not None:
                self.audit.record(event)
        return kill_switch

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
        self.faults.enter("change_kill_switch")
        with self._lock:
            epoch = self._epoch(tenant)
            killed = epoch.kill_switch
            if change.all:
                killed = killed.model_copy(update={"all": change.killed})
            else:
                name, member = ("flags", change.flag) if change.flag is not None else ("tags", change.tag)
                members = set(getattr(killed, name))
                if change.killed:
                    members.add(str(member))
                else:
                    members.discard(str(member))
                killed = killed.model_copy(update={name: frozenset(members)})
            epoch.kill_switch, epoch.updated_at, epoch.updated_by = killed, at, actor
            record = change.logged(actor, at, concerned)
            self._of(tenant).kills.append((f"{at.isoformat()}#{uuid.uuid4().hex[:12]}", record))
            self.audit.record(event)
        return self.kill_switch_state(tenant)

    def kill_switch_changes(self, tenant: str, key: str, *, limit: int) -> list[KillSwitchEvent]:
        self.faults.enter("kill_switch_changes")
        with self._lock:
            newest_first = sorted(self._of(tenant).kills, key=lambda kill: kill[0], reverse=True)
        return [record for _, record in newest_first if key in record.flags][:limit]

    def kill_switch_state(self, tenant: str) -> KillSwitchState:
        self.faults.enter("kill_switch_state")
        epoch = self._of(tenant).epoch
        if epoch is None:
            return KillSwitchState()
        return KillSwitchState(
            all=epoch.kill_switch.all,
            flags=sorted(epoch.kill_switch.flags),
            tags=sorted(epoch.kill_switch.tags),
            updated_at=epoch.updated_at,
            updated_by=epoch.updated_by,
        )

    def get_settings(self, tenant: str) -> FlagSettings:
        self.faults.enter("get_settings")
        epoch = self._of(tenant).epoch
        return epoch.settings if epoch is not None else FlagSettings()

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
        self.faults.enter("put_settings")
        with self._lock:
            current = self.get_settings(tenant)
            base = current.version if expected_version is None else expected_version
            if current.version != base or self.faults.conflicts("put_settings"):
                raise VersionConflictError(current.model_dump(mode="json"), current.version)
            replaced = stored(settings.model_copy(update={"version": base + 1}))
            self._epoch(tenant).settings = replaced
            self.audit.record(event)
            return replaced

    def epoch(self, tenant: str) -> FlagEpoch | None:
        self.faults.enter("epoch")
        epoch = self._of(tenant).epoch
        if epoch is None:
            return None
        return FlagEpoch(version=epoch.version, kill_switch=epoch.kill_switch, settings=epoch.settings)

    def load(self, tenant: str) -> FlagSet:
        self.faults.enter("load")
        with self._lock:
            data = self._of(tenant)
            epoch = data.epoch or _Epoch()
            return FlagSet(
                tenant=tenant,
                version=epoch.version,
                flags=dict(data.flags),
                segments=dict(data.segments),
                kill_switch=epoch.kill_switch,
            )

    # --- plumbing ------------------------------------------------------------------------------------------

    def _of(self, tenant: str) -> _Tenant:
        with self._lock:
            return self._tenants.setdefault(tenant, _Tenant())

    def _epoch(self, tenant: str) -> _Epoch:
        data = self._of(tenant)
        if data.epoch is None:
            data.epoch = _Epoch()
        return data.epoch

    def _bump(self, tenant: str) -> None:
        self._epoch(tenant).version += 1

    def _entries(self, tenant: str, key: str) -> list[FlagHistoryEntry]:
        with self._lock:
            history = self._of(tenant).history
            return [history[k] for k in sorted(k for k in history if k[0] == key)]

    def _write_flag(self, tenant: str, flag: Flag, previous: Flag | None, actor: str, at: datetime) -> None:
        data = self._of(tenant)
        data.flags[flag.key] = flag
        data.history[(flag.key, flag.version)] = FlagHistoryEntry(
            key=flag.key,
            version=flag.version,
            flag=flag,
            changed_by=actor,
            changed_at=at,
            diff=flag_diff(previous, flag),
        )
        self._bump(tenant)

    def _plan_condition_holds(self, tenant: str, write: dict[str, Any]) -> bool:
        if write.get(_PLAN_WRITE) != tenant:
            raise ValueError("not a plan write of this store and tenant")
        plan: RolloutPlan = write["plan"]
        current = self._of(tenant).plans.get(plan.flag_key)
        if write["expected"] is None:
            return current is None or current.status is not RolloutStatus.ACTIVE
        return current is not None and current.version == write["expected"]

    def _store_plan(self, tenant: str, plan: RolloutPlan) -> None:
        self._of(tenant).plans[plan.flag_key] = plan
