"""Feature flags in the main table: a tenant's flags, their history, its segments, and its epoch.

Key formats (docs/data-model.md, rows 32-37). Everything of one tenant's flags lives in one partition
``pk = TENANT#<t>#FLAGS``:
- a flag: ``sk = FLAG#<key>`` (``kind = flag``): ``key``, ``version``, ``flag`` (the flag's JSON form as a map, its
  own ``version`` included), ``updated_at``, ``updated_by``;
- a version of a flag: ``sk = HISTORY#<key>#<version:08d>`` (``kind = flag_version``, immutable): ``key``,
  ``version``, ``flag`` (the whole flag at that version), ``changed_by``, ``changed_at``, ``diff``
  (``[{field, before, after}]``, see ``firstmile.flags.history``);
- a segment: ``sk = SEGMENT#<key>`` (``kind = flag_segment``): ``key``, ``segment`` (its JSON form),
  ``updated_at``, ``updated_by``;
- a change of the kill switch: ``sk = KILLSWITCH#<changed_at>#<id>`` (``kind = flag_kill_switch_change``,
  immutable): ``target``, ``killed``, ``reason``, ``changed_by``, ``changed_at`` and ``flags``, the keys of the
  flags it concerned when it was made; a flag's answer and its history read them;
- the epoch: ``sk = EPOCH`` (``kind = flag_epoch``): ``version`` (the flag set's version: a counter that every
  change of a flag or segment adds one to) and the kill switch ``all``, ``flags`` and ``tags`` (lists), with
  ``kill_switch_updated_at`` / ``kill_switch_updated_by``.

Every change of a flag or segment is one TransactWriteItems that writes it, adds one to the epoch's ``version`` and
appends the change's audit entry (``AuditStore.transact``), so no reader can see the change without the bump or the
bump without the change, and no change is stored without its entry. Kill-switch, settings and rollout-plan changes
share their transaction with their entry the same way. That is why the
cache's order, epoch then load, never keeps a stale set: ``epoch`` reads version ``v`` (strongly consistent); a
``load`` that follows reads every change counted in ``v`` (its Queries are strongly consistent too), and perhaps a
few newer ones that raced it. The cache files that set under ``v``; a newer change makes the next epoch read differ
from ``v``, and the cache loads again. ``load`` reads the epoch first for the same reason: the set it returns holds
at least the changes counted in its ``version``, never fewer.

The kill switch lives on the epoch item, so a kill is seen by the one consistent GetItem every check makes. Setting
it does not change ``version``: the cache compares kill switches itself and recompiles without reloading.

Every request goes through the table gateway (``firstmile.platform.gateway``), which hands back plain Python values
(the item a cancellation reason carries included) and sends a transaction cancelled by ``TransactionConflict`` (it
wrote nothing) again a few times after a jittered pause.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from firstmile.audit.models import AuditEvent
from firstmile.audit.store import AuditStore
from firstmile.errors import DependencyUnavailableError, NotFoundError, VersionConflictError
from firstmile.flags.cache import FlagEpoch
from firstmile.flags.history import FlagHistoryEntry, flag_diff
from firstmile.flags.models import Flag, FlagSet, FlagSettings, KillSwitch, Segment
from firstmile.flags.rollout import RolloutPlan, RolloutStatus
from firstmile.flags.shapes import ExposureCount, KillSwitchChange, KillSwitchEvent, KillSwitchState
from firstmile.platform.cursors import Page
from firstmile.platform.gateway import CONDITION_FAILED, TableGateway, partition
from firstmile.platform.items import plain, storable, stored_fields
from firstmile.platform.versioned import StoredConflictError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_FLAG_PREFIX = "FLAG#"
_HISTORY_PREFIX = "HISTORY#"
_SEGMENT_PREFIX = "SEGMENT#"
_KILL_SWITCH_PREFIX = "KILLSWITCH#"
_EPOCH_SK = "EPOCH"
_ROLLOUT_PREFIX = "ROLLOUT#"
# The one partition that lists every active rollout plan of the deployment, for the scheduled job.
ACTIVE_ROLLOUTS_PARTITION = "FLAG_ROLLOUTS#ACTIVE"
_EXPOSURE_RETENTION_DAYS = 90
# SQS keeps a message at most 14 days; an event's marker outlives every delivery of it.
_EXPOSURE_EVENT_MARKER_DAYS = 15
# A transaction holds at most 100 items: the event's marker and 99 counters.
_COUNTERS_PER_TRANSACTION = 99
_EPOCH_ATTRIBUTES = {
    "#v": "version",
    "#all": "all",
    "#flags": "flags",
    "#tags": "tags",
    "#ca": "client_attributes",
    "#rate": "exposure_sample_rate",
    "#sv": "settings_version",
}


class FlagConflictError(StoredConflictError[Flag]):
    """A flag write lost a race (or named a stale version); carries the stored flag."""

    @property
    def flag(self) -> Flag | None:
        return self.stored


class FlagExistsError(FlagConflictError):
    """The tenant already has a flag with this key; carries the stored flag."""


# --- keys --------------------------------------------------------------------------------------------------


def flags_partition(tenant: str) -> str:
    """The partition that holds all of a tenant's flags, their history, segments and epoch."""
    return f"TENANT#{tenant}#FLAGS"


def _flag_key(tenant: str, key: str) -> dict[str, str]:
    return {"pk": flags_partition(tenant), "sk": f"{_FLAG_PREFIX}{key}"}


def _history_prefix(key: str) -> str:
    return f"{_HISTORY_PREFIX}{key}#"


def _history_key(tenant: str, key: str, version: int) -> dict[str, str]:
    return {"pk": flags_partition(tenant), "sk": f"{_history_prefix(key)}{version:08d}"}


def _segment_key(tenant: str, key: str) -> dict[str, str]:
    return {"pk": flags_partition(tenant), "sk": f"{_SEGMENT_PREFIX}{key}"}


def _epoch_key(tenant: str) -> dict[str, str]:
    return {"pk": flags_partition(tenant), "sk": _EPOCH_SK}


def _plan_key(tenant: str, key: str) -> dict[str, str]:
    return {"pk": flags_partition(tenant), "sk": f"{_ROLLOUT_PREFIX}{key}"}


def _active_plan_key(tenant: str, key: str) -> dict[str, str]:
    return {"pk": ACTIVE_ROLLOUTS_PARTITION, "sk": f"{tenant}#{key}"}


def exposures_partition(tenant: str) -> str:
    """Sampled exposure counts of a tenant's flags: ``sk = <flag>#<day>#<variant>``."""
    return f"TENANT#{tenant}#FLAGEXPOSURES"


def exposure_event_partition(tenant: str, event_id: str) -> str:
    """The marker of one counted exposure event: ``sk = PART#<n>``, one per transaction the event took."""
    return f"TENANT#{tenant}#FLAGEXPOSUREEVENT#{event_id}"


# --- items -------------------------------------------------------------------------------------------------


def _flag_of(item: dict[str, Any]) -> Flag:
    return Flag.model_validate(plain(item["flag"]))


def _segment_of(item: dict[str, Any]) -> Segment:
    return Segment.model_validate(plain(item["segment"]))


def _history_of(item: dict[str, Any]) -> FlagHistoryEntry:
    return FlagHistoryEntry.model_validate(
        {name: plain(item[name]) for name in ("key", "version", "flag", "changed_by", "changed_at", "diff")}
    )


def _kill_switch_of(item: dict[str, Any]) -> KillSwitch:
    return KillSwitch(
        all=bool(item.get("all", False)),
        flags=frozenset(str(k) for k in item.get("flags") or ()),
        tags=frozenset(str(t) for t in item.get("tags") or ()),
    )


def _settings_of(item: dict[str, Any]) -> FlagSettings:
    if "settings_version" not in item:
        return FlagSettings()
    return FlagSettings(
        client_attributes=[str(a) for a in item.get("client_attributes") or ()],
        exposure_sample_rate=float(item.get("exposure_sample_rate", 0)),
        version=int(item["settings_version"]),
    )


def _epoch_of(item: dict[str, Any]) -> FlagEpoch:
    return FlagEpoch(
        version=int(item.get("version", 0)), kill_switch=_kill_switch_of(item), settings=_settings_of(item)
    )


def _kill_switch_state_of(item: dict[str, Any] | None) -> KillSwitchState:
    if not item:
        return KillSwitchState()
    killed = _kill_switch_of(item)
    return KillSwitchState(
        all=killed.all,
        flags=sorted(killed.flags),
        tags=sorted(killed.tags),
        updated_at=item.get("kill_switch_updated_at"),
        updated_by=item.get("kill_switch_updated_by"),
    )


def _plan_of(item: dict[str, Any]) -> RolloutPlan:
    return RolloutPlan.model_validate(plain(item["plan"]))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class FlagStore:
    """All reads and writes of feature flags; a ``FlagSetSource`` for ``FlagSetCache``. Errors from AWS become
    ``DependencyUnavailableError``. Audited changes append their entry to ``audit`` (the chains in the same table)
    in their own transaction."""

    def __init__(self, table: Table | TableGateway, *, audit: AuditStore | None = None) -> None:
        self._table = TableGateway.of(table)
        self._audit = audit or AuditStore(self._table)

    # --- flags ---------------------------------------------------------------------------------------------

    def create_flag(self, tenant: str, flag: Flag, actor: str, at: datetime, *, event: AuditEvent) -> Flag:
        """Store a new flag as version 1, with its first history entry, add one to the epoch version and append
        ``event``: one TransactWriteItems. ``FlagExistsError`` with the stored flag when the tenant already has that
        key."""
        stored = flag.model_copy(update={"version": 1})
        reasons = self._write_flag(tenant, stored, None, actor, at, event)
        if reasons is None:
            return stored
        raise FlagExistsError(self._returned_flag(reasons) or self.get_flag(tenant, flag.key))

    def get_flag(self, tenant: str, key: str) -> Flag | None:
        """One GetItem (consistent)."""
        item = self._get(_flag_key(tenant, key))
        return _flag_of(item) if item else None

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
        """Store ``flag`` as version ``expected_version + 1`` with a history entry holding its diff from the stored
        version, add one to the epoch version and append ``event``. ``FlagConflictError`` with the stored flag when
        its version is not ``expected_version``; ``NotFoundError`` when there is no such flag.

        One consistent GetItem (the version the diff is taken against) and one TransactWriteItems conditioned on
        that version still being stored. Archiving is a replace with ``archived = true``; a rollback is a replace
        with the content of ``get_history_version`` (it gets a new version number). ``also`` are more writes for
        the same transaction (a rollout plan's step, ``plan_writes``); if one of their conditions fails, nothing is
        written and ``FlagConflictError`` is raised.
        """
        previous = self.get_flag(tenant, flag.key)
        if previous is None:
            raise NotFoundError(f"flag {flag.key}")
        if previous.version != expected_version:
            raise FlagConflictError(previous)
        stored = flag.model_copy(update={"version": expected_version + 1})
        reasons = self._write_flag(tenant, stored, previous, actor, at, event, also)
        if reasons is None:
            return stored
        raise FlagConflictError(self._returned_flag(reasons) or self.get_flag(tenant, flag.key))

    def list_flags(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Flag]:
        """Query ``begins_with(sk, FLAG#)`` (consistent), in key order, archived flags included, cursor-paged; a
        cursor of another tenant's or another list is refused with VAL_CURSOR_INVALID."""
        items, next_cursor = self._page(tenant, _FLAG_PREFIX, limit=limit, cursor=cursor)
        return Page[Flag](items=[_flag_of(item) for item in items], next_cursor=next_cursor)

    def history(self, tenant: str, key: str, *, limit: int, cursor: str | None) -> Page[FlagHistoryEntry]:
        """Query ``begins_with(sk, HISTORY#<key>#)``, newest version first, cursor-paged."""
        items, next_cursor = self._page(tenant, _history_prefix(key), limit=limit, cursor=cursor, newest_first=True)
        return Page[FlagHistoryEntry](items=[_history_of(item) for item in items], next_cursor=next_cursor)

    def get_history_version(self, tenant: str, key: str, version: int) -> FlagHistoryEntry | None:
        """One version of a flag, as a rollback needs it. One GetItem (consistent: it may have just been written)."""
        item = self._get(_history_key(tenant, key, version))
        return _history_of(item) if item else None

    def history_entries(self, tenant: str, key: str) -> list[FlagHistoryEntry]:
        """Every version of a flag, oldest first (erasure rewrites them): one Query, paged to the end."""
        return [_history_of(item) for item in self._all(tenant, _history_prefix(key))]

    def rewrite_history_entry(self, tenant: str, entry: FlagHistoryEntry, *, event: AuditEvent | None = None) -> None:
        """Replace a stored version's flag and diff (erasure only: history is otherwise immutable), on condition that
        the version exists; with ``event`` appended in the same transaction when given. ``NotFoundError`` when the
        version has gone."""
        rewrite = self._table.update_action(
            _history_key(tenant, entry.key, entry.version),
            "SET #flag = :flag, #diff = :diff",
            condition="attribute_exists(pk)",
            names={"#flag": "flag", "#diff": "diff"},
            values={
                ":flag": stored_fields(entry.flag),
                ":diff": storable([change.model_dump(mode="json") for change in entry.diff]),
            },
        )
        reasons = self._send([rewrite], event)
        if reasons is not None:
            self._refuse_contention(tenant, reasons)
            raise NotFoundError(f"version {entry.version} of flag {entry.key}")

    # --- segments ------------------------------------------------------------------------------------------

    def put_segment(self, tenant: str, segment: Segment, actor: str, at: datetime, *, event: AuditEvent) -> Segment:
        """Create or replace a segment (the last writer wins), add one to the epoch version and append ``event``: one
        TransactWriteItems."""
        item = {
            **_segment_key(tenant, segment.key),
            "kind": "flag_segment",
            "key": segment.key,
            "segment": stored_fields(segment),
            "updated_at": _iso(at),
            "updated_by": actor,
        }
        reasons = self._audit.transact([self._put(item, if_absent=False), self._bump_epoch(tenant)], event)
        if reasons is not None:
            raise DependencyUnavailableError("table", f"the flags of tenant {tenant} stayed contended")
        return segment

    def get_segment(self, tenant: str, key: str) -> Segment | None:
        """One GetItem (consistent)."""
        item = self._get(_segment_key(tenant, key))
        return _segment_of(item) if item else None

    def list_segments(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Segment]:
        """Query ``begins_with(sk, SEGMENT#)`` (consistent), in key order, cursor-paged."""
        items, next_cursor = self._page(tenant, _SEGMENT_PREFIX, limit=limit, cursor=cursor)
        return Page[Segment](items=[_segment_of(item) for item in items], next_cursor=next_cursor)

    # --- rollout plans -------------------------------------------------------------------------------------

    def plan_writes(self, tenant: str, plan: RolloutPlan, expected_version: int | None) -> list[dict[str, Any]]:
        """The writes that store ``plan`` (for ``replace_flag(also=...)`` or ``put_plan``): the plan item, on
        condition that its stored version is ``expected_version`` (``None``: that no active plan is stored), and
        its entry in the deployment's list of active plans, put while active and deleted once it ended."""
        item = {
            **_plan_key(tenant, plan.flag_key),
            "kind": "flag_rollout",
            "key": plan.flag_key,
            "version": plan.version,
            "status": plan.status.value,
            "plan": stored_fields(plan),
        }
        if expected_version is None:
            put = self._table.put_action(
                item,
                condition="attribute_not_exists(pk) OR #status <> :active",
                names={"#status": "status"},
                values={":active": RolloutStatus.ACTIVE.value},
            )
        else:
            put = self._table.put_action(
                item, condition="#v = :expected", names={"#v": "version"}, values={":expected": expected_version}
            )
        index_key = _active_plan_key(tenant, plan.flag_key)
        if plan.status is RolloutStatus.ACTIVE:
            listed = self._table.put_action({**index_key, "kind": "flag_rollout_active"})
        else:
            listed = self._table.delete_action(index_key)
        return [put, listed]

    def put_plan(
        self, tenant: str, plan: RolloutPlan, expected_version: int | None, *, event: AuditEvent | None = None
    ) -> RolloutPlan:
        """Store ``plan`` alone (a cancellation, an end, a new guard reading): one TransactWriteItems of
        ``plan_writes``, which appends ``event`` when the change is audited. ``VersionConflictError`` with the stored
        plan when its condition fails."""
        reasons = self._send(self.plan_writes(tenant, plan, expected_version), event)
        if reasons is None:
            return plan
        if all(r.get("Code") != CONDITION_FAILED for r in reasons):
            raise DependencyUnavailableError("table", f"the rollout of {plan.flag_key} stayed contended")
        stored = self.get_plan(tenant, plan.flag_key)
        raise VersionConflictError(
            stored.model_dump(mode="json") if stored else None, stored.version if stored else None
        )

    def get_plan(self, tenant: str, key: str) -> RolloutPlan | None:
        """The flag's rollout plan, the last one if it ended: one consistent GetItem."""
        item = self._get(_plan_key(tenant, key))
        return _plan_of(item) if item else None

    def active_plans(self) -> list[tuple[str, str]]:
        """(tenant, flag key) of every active plan of the deployment: one Query of the list's partition, paged."""
        listed = self._table.query_all(partition(ACTIVE_ROLLOUTS_PARTITION), consistent=True)
        return [(tenant, key) for tenant, _, key in (str(item["sk"]).rpartition("#") for item in listed)]

    # --- exposures -----------------------------------------------------------------------------------------

    def add_exposures(
        self, tenant: str, event_id: str, counts: Mapping[tuple[str, str, str], tuple[int, float]], now: datetime
    ) -> bool:
        """Add one exposure event's counts, ``(flag, day, variant) -> (events, estimated evaluations)``, exactly once.

        Each transaction writes a marker of the event (absent before) with up to 99 counter ADDs, so a redelivered
        event adds nothing and an event cut short by a failure is taken up where it stopped. ``False`` when every part
        of the event had been counted before. Counters expire 90 days after their day; markers after SQS could
        last deliver the event (14 days) and a day more."""
        keys = sorted(counts)
        marker_expires = int((now + timedelta(days=_EXPOSURE_EVENT_MARKER_DAYS)).timestamp())
        counted = False
        for part, start in enumerate(range(0, max(1, len(keys)), _COUNTERS_PER_TRANSACTION)):
            marker = self._put(
                {
                    "pk": exposure_event_partition(tenant, event_id),
                    "sk": f"PART#{part}",
                    "kind": "flag_exposure_event",
                    "expires_at": marker_expires,
                }
            )
            adds = [
                self._add_exposure(tenant, key, counts[key]) for key in keys[start : start + _COUNTERS_PER_TRANSACTION]
            ]
            reasons = self._table.transact([marker, *adds])
            if reasons is None:
                counted = True
                continue
            if reasons[0].get("Code") != CONDITION_FAILED:
                raise DependencyUnavailableError("table", f"the exposure counters of tenant {tenant} stayed contended")
        return counted

    def _add_exposure(self, tenant: str, key: tuple[str, str, str], count: tuple[int, float]) -> dict[str, Any]:
        (flag_key, day, variant), (sampled, estimated) = key, count
        expires = datetime.fromisoformat(day) + timedelta(days=_EXPOSURE_RETENTION_DAYS)
        return self._table.update_action(
            {"pk": exposures_partition(tenant), "sk": f"{flag_key}#{day}#{variant}"},
            "SET #kind = :kind, #flag = :flag, #day = :day, #variant = :variant, #exp = :exp "
            "ADD #sampled :sampled, #estimated :estimated",
            names={
                "#kind": "kind",
                "#flag": "flag",
                "#day": "day",
                "#variant": "variant",
                "#exp": "expires_at",
                "#sampled": "sampled",
                "#estimated": "estimated",
            },
            values={
                ":kind": "flag_exposure",
                ":flag": flag_key,
                ":day": day,
                ":variant": variant,
                ":exp": int(expires.timestamp()),
                ":sampled": sampled,
                ":estimated": storable(round(estimated, 3)),
            },
        )

    def exposure_counts(self, tenant: str, key: str, since: date) -> list[ExposureCount]:
        """The flag's exposure counts per day and variant from ``since`` on: one Query, paged to the end."""
        counts = self._table.query_all(
            partition(exposures_partition(tenant)).between(f"{key}#{since.isoformat()}", f"{key}#~")
        )
        return [
            ExposureCount(
                day=item["day"],
                variant=str(item["variant"]),
                sampled=int(item.get("sampled", 0)),
                estimated=float(item.get("estimated", 0)),
            )
            for item in counts
        ]

    # --- the epoch and the kill switch ---------------------------------------------------------------------

    def set_kill_switch(
        self, tenant: str, kill_switch: KillSwitch, actor: str, at: datetime, *, event: AuditEvent | None = None
    ) -> KillSwitch:
        """Store the tenant's whole kill-switch state (replacing the previous one) on the epoch item, with ``event``
        appended in the same transaction when given (the admin API changes one member at a time:
        ``change_kill_switch``). The epoch version stays: caches compare kill switches. Killed flags and tags are
        string sets, so ``change_kill_switch`` can add and remove single members without reading first."""
        sets = {"#flags": sorted(kill_switch.flags), "#tags": sorted(kill_switch.tags)}
        names = {"#kind": "kind", "#all": "all", "#at": "kill_switch_updated_at", "#by": "kill_switch_updated_by"}
        values: dict[str, Any] = {":kind": "flag_epoch", ":all": kill_switch.all, ":at": _iso(at), ":by": actor}
        assignments = ["#kind = :kind", "#all = :all", "#at = :at", "#by = :by"]
        removals: list[str] = []
        for placeholder, members in sets.items():
            names[placeholder] = placeholder[1:]
            if members:
                values[f":{placeholder[1:]}"] = set(members)
                assignments.append(f"{placeholder} = :{placeholder[1:]}")
            else:
                removals.append(placeholder)
        expression = "SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removals) if removals else "")
        if self._send([self._epoch_update(tenant, expression, names, values)], event) is not None:
            raise DependencyUnavailableError("table", f"the flags of tenant {tenant} stayed contended")
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
        """Kill or revive one flag, one tag, or everything, record the change for the ``concerned`` flags' answers and
        histories, and append ``event``: one TransactWriteItems whose update of the epoch item adds a member to (or
        deletes one from) the killed set, so two admins killing two flags at once both stay killed. Then the epoch
        is read (consistent) for the state to answer with."""
        names = {"#kind": "kind", "#at": "kill_switch_updated_at", "#by": "kill_switch_updated_by"}
        values: dict[str, Any] = {":kind": "flag_epoch", ":at": _iso(at), ":by": actor}
        expression = "SET #kind = :kind, #at = :at, #by = :by"
        if change.all:
            names["#all"] = "all"
            values[":all"] = change.killed
            expression += ", #all = :all"
        else:
            attribute, member = ("flags", change.flag) if change.flag is not None else ("tags", change.tag)
            names["#member"] = attribute
            values[":member"] = {member}
            expression += f" {'ADD' if change.killed else 'DELETE'} #member :member"
        record = change.logged(actor, at, concerned)
        # A random part keeps two changes of one microsecond apart; a resent transaction rewrites the same item.
        logged = {
            "pk": flags_partition(tenant),
            "sk": f"{_KILL_SWITCH_PREFIX}{_iso(at)}#{uuid.uuid4().hex[:12]}",
            "kind": "flag_kill_switch_change",
            **record.model_dump(mode="json"),
        }
        writes = [self._epoch_update(tenant, expression, names, values), self._put(logged, if_absent=False)]
        reasons = self._audit.transact(writes, event)
        if reasons is not None:  # the writes have no condition: only contention refuses them
            raise DependencyUnavailableError("table", f"the flags of tenant {tenant} stayed contended")
        return self.kill_switch_state(tenant)

    def kill_switch_changes(self, tenant: str, key: str, *, limit: int) -> list[KillSwitchEvent]:
        """The newest ``limit`` kill-switch changes that concerned the flag ``key``, newest first: a Query of the
        tenant's kill-switch log (which holds only kills and revivals), filtered on the flags each one named."""
        logged = self._table.query_all(
            partition(flags_partition(tenant)).begins_with(_KILL_SWITCH_PREFIX),
            filter="contains(#flags, :flag)",
            names={"#flags": "flags"},
            values={":flag": key},
            consistent=True,
            newest_first=True,
        )
        changes: list[KillSwitchEvent] = []
        for item in logged:
            changes.append(KillSwitchEvent.model_validate(plain({k: item[k] for k in KillSwitchEvent.model_fields})))
            if len(changes) >= limit:
                break
        return changes

    def kill_switch_state(self, tenant: str) -> KillSwitchState:
        """What is killed in the tenant, and who changed it last: one consistent GetItem of the epoch item."""
        return _kill_switch_state_of(self._get(_epoch_key(tenant)))

    # --- settings ------------------------------------------------------------------------------------------

    def get_settings(self, tenant: str) -> FlagSettings:
        """The tenant's flag settings (the defaults, version 0, before the first change)."""
        epoch = self.epoch(tenant)
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
        """Replace the tenant's flag settings on the epoch item, as version ``expected_version + 1`` (``None``: on
        whatever is stored), and append ``event``: one TransactWriteItems. ``VersionConflictError`` with the stored
        settings when another change came first."""
        current = self.get_settings(tenant)
        base = current.version if expected_version is None else expected_version
        stored = settings.model_copy(update={"version": base + 1})
        names = {
            "#kind": "kind",
            "#ca": "client_attributes",
            "#rate": "exposure_sample_rate",
            "#sv": "settings_version",
        }
        values: dict[str, Any] = {
            ":kind": "flag_epoch",
            ":ca": list(stored.client_attributes),
            ":rate": storable(stored.exposure_sample_rate),
            ":sv": stored.version,
            ":base": base,
        }
        condition = "attribute_not_exists(#sv) OR #sv = :base" if base == 0 else "#sv = :base"
        expression = "SET #kind = :kind, #ca = :ca, #rate = :rate, #sv = :sv"
        write = self._epoch_update(tenant, expression, names, values, condition=condition)
        reasons = self._audit.transact([write], event)
        if reasons is None:
            return stored
        latest = self.get_settings(tenant)
        raise VersionConflictError(latest.model_dump(mode="json"), latest.version)

    def epoch(self, tenant: str) -> FlagEpoch | None:
        """The tenant's flag-set version and kill switch: one strongly consistent GetItem of the epoch item, reading
        only those attributes. ``None`` when the tenant has never had a flag, a segment or a kill switch."""
        item = self._table.get(_epoch_key(tenant), projection=", ".join(_EPOCH_ATTRIBUTES), names=_EPOCH_ATTRIBUTES)
        return _epoch_of(item) if item else None

    def load(self, tenant: str) -> FlagSet:
        """The tenant's whole flag set: the epoch (one consistent GetItem), then every flag (archived ones included)
        and every segment (two consistent Queries, paged to the end). Its ``version`` is the epoch read first, so the
        set holds at least the changes that version counts (see the module docstring)."""
        epoch = self.epoch(tenant) or FlagEpoch(version=0, kill_switch=KillSwitch())
        flags = [_flag_of(item) for item in self._all(tenant, _FLAG_PREFIX)]
        segments = [_segment_of(item) for item in self._all(tenant, _SEGMENT_PREFIX)]
        return FlagSet(
            tenant=tenant,
            version=epoch.version,
            flags={flag.key: flag for flag in flags},
            segments={segment.key: segment for segment in segments},
            kill_switch=epoch.kill_switch,
        )

    # --- plumbing ------------------------------------------------------------------------------------------

    def _write_flag(
        self,
        tenant: str,
        flag: Flag,
        previous: Flag | None,
        actor: str,
        at: datetime,
        event: AuditEvent,
        also: Sequence[dict[str, Any]] = (),
    ) -> list[dict[str, Any]] | None:
        """The flag (if absent, or if ``previous`` is still stored), its history entry (if absent), the epoch bump and
        ``event``'s entry, in one transaction; ``None`` when it applied, else the cancellation reasons of the flag's
        items (a condition failed). ``DependencyUnavailableError`` when it stayed contended."""
        flag_item = {
            **_flag_key(tenant, flag.key),
            "kind": "flag",
            "key": flag.key,
            "version": flag.version,
            "flag": stored_fields(flag),
            "updated_at": _iso(at),
            "updated_by": actor,
        }
        history_item = {
            **_history_key(tenant, flag.key, flag.version),
            "kind": "flag_version",
            "key": flag.key,
            "version": flag.version,
            "flag": stored_fields(flag),
            "changed_by": actor,
            "changed_at": _iso(at),
            "diff": storable([change.model_dump(mode="json") for change in flag_diff(previous, flag)]),
        }
        if previous is None:
            put_flag = self._table.put_action(flag_item, condition="attribute_not_exists(pk)", return_stored=True)
        else:
            put_flag = self._table.put_action(
                flag_item,
                condition="#v = :expected",
                names={"#v": "version"},
                values={":expected": previous.version},
                return_stored=True,
            )
        return self._audit.transact([put_flag, self._put(history_item), self._bump_epoch(tenant), *also], event)

    def _send(self, items: list[dict[str, Any]], event: AuditEvent | None) -> list[dict[str, Any]] | None:
        """``items`` in one transaction, with ``event``'s entry when the change is audited."""
        return self._table.transact(items) if event is None else self._audit.transact(items, event)

    def _epoch_update(
        self,
        tenant: str,
        expression: str,
        names: dict[str, str],
        values: dict[str, Any],
        *,
        condition: str | None = None,
    ) -> dict[str, Any]:
        """An update of the tenant's epoch item, for a transaction."""
        return self._table.update_action(
            _epoch_key(tenant), expression, condition=condition, names=names, values=values
        )

    def _put(self, item: dict[str, Any], *, if_absent: bool = True) -> dict[str, Any]:
        """A Put for a transaction, by default on condition that the item is absent."""
        return self._table.put_new_action(item) if if_absent else self._table.put_action(item)

    def _bump_epoch(self, tenant: str) -> dict[str, Any]:
        return self._table.update_action(
            _epoch_key(tenant),
            "SET #kind = :kind ADD #v :one",
            names={"#kind": "kind", "#v": "version"},
            values={":kind": "flag_epoch", ":one": 1},
        )

    @staticmethod
    def _refuse_contention(tenant: str, reasons: list[dict[str, Any]]) -> None:
        """A transaction that no condition refused was cancelled by concurrent ones every time it was sent."""
        if all(r.get("Code") != CONDITION_FAILED for r in reasons):
            raise DependencyUnavailableError("table", f"the flags of tenant {tenant} stayed contended")

    @staticmethod
    def _returned_flag(reasons: list[dict[str, Any]]) -> Flag | None:
        """The stored flag a failed flag condition returned (the first item of the transaction)."""
        if reasons[0].get("Code") != CONDITION_FAILED:
            return None
        returned = reasons[0].get("Item")
        return _flag_of(returned) if returned else None

    def _page(
        self, tenant: str, prefix: str, *, limit: int, cursor: str | None, newest_first: bool = False
    ) -> tuple[list[dict[str, Any]], str | None]:
        flags = flags_partition(tenant)
        return self._table.query_page(
            partition(flags).begins_with(prefix),
            limit=limit,
            cursor=cursor,
            scope=f"{flags}|{prefix}",
            consistent=True,
            newest_first=newest_first,
        )

    def _all(self, tenant: str, prefix: str) -> list[dict[str, Any]]:
        return list(self._table.query_all(partition(flags_partition(tenant)).begins_with(prefix), consistent=True))

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        return self._table.get(key)
