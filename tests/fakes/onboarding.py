"""In-memory onboarding storage: flows, progress and events, migrations and their counters."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from firstmile.audit.models import AuditEvent
from firstmile.errors import NotFoundError, VersionConflictError
from firstmile.identifiers import user_partition
from firstmile.onboarding.models import (
    DefaultFlow,
    Enrolment,
    FlowDraft,
    FlowVersion,
    FlowVersionSummary,
    Migration,
    MigrationStatus,
    OnboardingSettings,
    OnboardingState,
    Progress,
    Transition,
    TransitionEvent,
    UsersOnVersion,
)
from firstmile.onboarding.store import (
    DraftConflictError,
    FlowExistsError,
    ProgressConflictError,
    check_events,
    idle_shard,
)
from firstmile.platform.cursors import Page
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.paging import page_of
from tests.fakes.storage import stored


def _fixed_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _enrolment_order(progress: Progress) -> str:
    return f"{_fixed_utc(progress.enrolled_at)}#{progress.user}"


class FakeOnboardingStore(AuditedFake):
    """``OnboardingStorePort`` in memory; audited changes append to ``audit`` under its lock, with the change."""

    def __init__(self, *, event_retention_days: int = 400, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self._retention = timedelta(days=event_retention_days)
        self._drafts: dict[tuple[str, str], FlowDraft] = {}
        self._versions: dict[tuple[str, str, int], FlowVersion] = {}
        self._defaults: dict[str, DefaultFlow] = {}
        self._progress: dict[tuple[str, str], Progress] = {}
        # (tenant, user) -> [(order, event, expires at)]
        self._events: dict[tuple[str, str], list[tuple[str, TransitionEvent, int]]] = {}
        self._migrations: dict[tuple[str, str], Migration] = {}
        self._markers: set[tuple[str, str, str]] = set()
        self._settings: dict[str, OnboardingSettings] = {}

    # --- settings and idle users ------------------------------------------------------------------------------

    def get_settings(self, tenant: str) -> OnboardingSettings:
        self.faults.enter("get_settings")
        return self._settings.get(tenant, OnboardingSettings())

    def set_settings(self, tenant: str, settings: OnboardingSettings, *, event: AuditEvent) -> OnboardingSettings:
        self.faults.enter("set_settings")
        with self._lock:
            self._settings[tenant] = settings
            self.audit.record(event)
        return settings

    def list_idle(self, day: date, shard: int) -> list[tuple[str, str]]:
        self.faults.enter("list_idle")
        return [
            (tenant, user)
            for (tenant, user), p in sorted(self._progress.items())
            if p.state == OnboardingState.IN_PROGRESS
            and not p.sample
            and p.dropped_at is None
            and p.updated_at.date() == day
            and idle_shard(user_partition(tenant, user)) == shard
        ]

    # --- flows ---------------------------------------------------------------------------------------------

    def create_draft(self, tenant: str, draft: FlowDraft, *, event: AuditEvent) -> FlowDraft:
        self.faults.enter("create_draft")
        with self._lock:
            if (tenant, draft.flow_id) in self._drafts:
                raise FlowExistsError(draft.flow_id)
            created = stored(draft.model_copy(update={"version": 1}))
            self._drafts[(tenant, draft.flow_id)] = created
            self.audit.record(event)
            return created

    def get_draft(self, tenant: str, flow_id: str) -> FlowDraft | None:
        self.faults.enter("get_draft")
        return self._drafts.get((tenant, flow_id))

    def replace_draft(self, tenant: str, draft: FlowDraft, expected_version: int, *, event: AuditEvent) -> FlowDraft:
        self.faults.enter("replace_draft")
        with self._lock:
            current = self._drafts.get((tenant, draft.flow_id))
            if current is None or current.version != expected_version or self.faults.conflicts("replace_draft"):
                raise DraftConflictError(current)
            replaced = stored(draft.model_copy(update={"version": expected_version + 1}))
            self._drafts[(tenant, draft.flow_id)] = replaced
            self.audit.record(event)
            return replaced

    def list_drafts(self, tenant: str, *, limit: int, cursor: str | None) -> Page[FlowDraft]:
        self.faults.enter("list_drafts")
        with self._lock:
            drafts = sorted((d for (t, _), d in self._drafts.items() if t == tenant), key=lambda d: d.flow_id)
        items, next_cursor = page_of(drafts, lambda d: d.flow_id, scope=f"drafts|{tenant}", limit=limit, cursor=cursor)
        return Page[FlowDraft](items=items, next_cursor=next_cursor)

    def publish(self, tenant: str, draft: FlowDraft, version: FlowVersion, *, event: AuditEvent) -> FlowDraft:
        self.faults.enter("publish")
        with self._lock:
            current = self._drafts.get((tenant, draft.flow_id))
            if (
                current is None
                or current.version != draft.version
                or (tenant, version.flow_id, version.version) in self._versions
                or self.faults.conflicts("publish")
            ):
                raise DraftConflictError(current)
            self._versions[(tenant, version.flow_id, version.version)] = stored(version)
            advanced = current.model_copy(
                update={"latest_published_version": version.version, "version": current.version + 1}
            )
            self._drafts[(tenant, draft.flow_id)] = advanced
            self.audit.record(event)
            return draft.model_copy(update={"latest_published_version": version.version, "version": draft.version + 1})

    def get_version(self, tenant: str, flow_id: str, version: int) -> FlowVersion | None:
        self.faults.enter("get_version")
        return self._versions.get((tenant, flow_id, version))

    def list_versions(self, tenant: str, flow_id: str, *, limit: int, cursor: str | None) -> Page[FlowVersionSummary]:
        self.faults.enter("list_versions")
        with self._lock:
            versions = sorted(
                (v for (t, f, _), v in self._versions.items() if (t, f) == (tenant, flow_id)),
                key=lambda v: v.version,
                reverse=True,
            )
        chosen, next_cursor = page_of(
            versions,
            lambda v: f"{v.version:06d}",
            scope=f"versions|{tenant}|{flow_id}",
            limit=limit,
            cursor=cursor,
            descending=True,
        )
        summaries = [
            FlowVersionSummary(
                flow_id=v.flow_id,
                version=v.version,
                name=v.definition.name,
                steps=len(v.definition.steps),
                published_at=v.published_at,
                published_by=v.published_by,
            )
            for v in chosen
        ]
        return Page[FlowVersionSummary](items=summaries, next_cursor=next_cursor)

    def get_default(self, tenant: str) -> DefaultFlow | None:
        self.faults.enter("get_default")
        return self._defaults.get(tenant)

    def set_default(self, tenant: str, default: DefaultFlow, *, event: AuditEvent) -> DefaultFlow:
        self.faults.enter("set_default")
        with self._lock:
            self._defaults[tenant] = stored(default)
            self.audit.record(event)
        return default

    # --- progress ------------------------------------------------------------------------------------------

    def get_progress(self, tenant: str, user: str) -> Progress | None:
        self.faults.enter("get_progress")
        return self._progress.get((tenant, user))

    def set_segment(self, tenant: str, user: str, segment: dict[str, str], expected_version: int) -> bool:
        self.faults.enter("set_segment")
        with self._lock:
            current = self._progress.get((tenant, user))
            if current is None or current.version != expected_version or self.faults.conflicts("set_segment"):
                return False
            changed = current.model_copy(update={"segment": dict(segment), "version": current.version + 1})
            self._progress[(tenant, user)] = stored(changed)
            return True

    def write_transition(
        self, transition: Transition, *, event: AuditEvent | None = None, checks: Sequence[dict[str, Any]] = ()
    ) -> None:
        self.faults.enter("write_transition")
        if not transition.events:
            return
        check_events(transition)
        progress = transition.progress
        key = (progress.tenant, progress.user)
        with self._lock:
            current = self._progress.get(key)
            expected = progress.version - 1
            matches = current is None if expected == 0 else current is not None and current.version == expected
            holds = all(check["holds"]() for check in checks)  # a fake's checks are callables (FakeConsentStore)
            if not matches or not holds or self.faults.conflicts("write_transition"):
                raise ProgressConflictError(current)
            self._progress[key] = stored(progress)
            events = self._events.setdefault(key, [])
            for n, happened in enumerate(transition.events):
                order = f"{_fixed_utc(happened.at)}#{happened.progress_version:010d}#{n:02d}"
                events.append((order, stored(happened), self._event_expiry(happened, progress)))
            events.sort(key=lambda entry: entry[0])
            if event is not None:
                self.audit.record(event)

    def set_consent_marks(
        self, tenant: str, user: str, accepted: dict[str, str], opted_out: bool | None, restricted: bool | None = None
    ) -> bool:
        """What a consent change does to the user's progress, if they have one: the accepted policy versions (and the
        analytics marker, when given) set and the version moved on (the real ``ConsentStore`` writes it in the
        consent's transaction)."""
        with self._lock:
            current = self._progress.get((tenant, user))
            if current is None:
                return False
            update: dict[str, Any] = {"accepted_policies": dict(accepted), "version": current.version + 1}
            if opted_out is not None:
                update["analytics_opt_out"] = opted_out
            if restricted is not None:
                update["restricted"] = restricted
            changed = current.model_copy(update=update)
            self._progress[(tenant, user)] = stored(changed)
            return True

    def list_events(self, tenant: str, user: str) -> list[TransitionEvent]:
        self.faults.enter("list_events")
        now = int(time.time())
        with self._lock:
            return [happened for _, happened, expires in self._events.get((tenant, user), []) if expires > now]

    def list_progress_on_version(
        self, users: UsersOnVersion, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Progress], dict[str, Any] | None]:
        self.faults.enter("list_progress_on_version")
        return self._page_on_version(users, limit, start_key)

    def list_enrolments(
        self, users: UsersOnVersion, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Enrolment], dict[str, Any] | None]:
        self.faults.enter("list_enrolments")
        page, next_key = self._page_on_version(users, limit, start_key)
        return [Enrolment.model_validate(p.model_dump(include=set(Enrolment.model_fields))) for p in page], next_key

    def _page_on_version(
        self, users: UsersOnVersion, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Progress], dict[str, Any] | None]:
        listing = f"{users.tenant}|{users.flow_id}|{users.version}"
        if start_key and start_key.get("list") != listing:
            raise ValueError("the start key belongs to another list")
        since = _fixed_utc(users.enrolled_since) if users.enrolled_since is not None else ""
        after = str(start_key["after"]) if start_key else ""
        with self._lock:
            on_version = sorted(
                (
                    p
                    for (t, _), p in self._progress.items()
                    if (t, p.flow_id, p.flow_version) == (users.tenant, users.flow_id, users.version)
                    and _enrolment_order(p) >= since
                    and _enrolment_order(p) > after
                ),
                key=_enrolment_order,
            )
        page = on_version[: max(1, limit)]
        more = len(on_version) > len(page)
        return page, ({"list": listing, "after": _enrolment_order(page[-1])} if more else None)

    # --- migrations ----------------------------------------------------------------------------------------

    def create_migration(self, tenant: str, migration: Migration, *, event: AuditEvent) -> Migration:
        self.faults.enter("create_migration")
        with self._lock:
            if (tenant, migration.migration_id) in self._migrations:
                raise VersionConflictError(None, None)
            self._migrations[(tenant, migration.migration_id)] = stored(migration)
            self.audit.record(event)
        return migration

    def delete_migration(self, tenant: str, migration_id: str, *, event: AuditEvent) -> None:
        self.faults.enter("delete_migration")
        with self._lock:
            self._migrations.pop((tenant, migration_id), None)
            self.audit.record(event)

    def get_migration(self, tenant: str, migration_id: str) -> Migration | None:
        self.faults.enter("get_migration")
        return self._migrations.get((tenant, migration_id))

    def record_page(
        self, tenant: str, migration_id: str, page_token: str, *, users: int, batches: int, last: bool
    ) -> Migration | None:
        self.faults.enter("record_page")
        counts: dict[str, Any] = {"users_enqueued": users, "batches_enqueued": batches}
        return self._count_once(tenant, migration_id, f"PAGE#{page_token}", counts, listing_done=last)

    def page_counted(self, tenant: str, migration_id: str, page_token: str) -> bool:
        self.faults.enter("page_counted")
        return (tenant, migration_id, f"PAGE#{page_token}") in self._markers

    def record_batch(
        self, tenant: str, migration_id: str, batch_id: str, *, migrated: int, skipped: int
    ) -> Migration | None:
        self.faults.enter("record_batch")
        counts = {"users_migrated": migrated, "users_skipped": skipped, "batches_done": 1}
        return self._count_once(tenant, migration_id, f"BATCH#{batch_id}", counts)

    def complete_migration(self, tenant: str, migration_id: str, at: str, *, event: AuditEvent) -> bool:
        self.faults.enter("complete_migration")
        with self._lock:
            current = self._migrations.get((tenant, migration_id))
            if (
                current is None
                or current.status is not MigrationStatus.RUNNING
                or not current.listing_done
                or current.batches_done != current.batches_enqueued
            ):
                return False
            self._migrations[(tenant, migration_id)] = stored(
                current.model_copy(
                    update={"status": MigrationStatus.COMPLETED, "completed_at": datetime.fromisoformat(at)}
                )
            )
            self.audit.record(event)
            return True

    # --- for tests -----------------------------------------------------------------------------------------

    def users(self) -> list[tuple[str, str]]:
        """(tenant, user) of every stored progress."""
        with self._lock:
            return sorted(self._progress)

    # --- plumbing ------------------------------------------------------------------------------------------

    def _count_once(
        self, tenant: str, migration_id: str, marker: str, counts: dict[str, int], *, listing_done: bool = False
    ) -> Migration | None:
        with self._lock:
            if (tenant, migration_id, marker) in self._markers:
                return None
            current = self._migrations.get((tenant, migration_id))
            if current is None:
                raise NotFoundError(f"migration {migration_id}")
            self._markers.add((tenant, migration_id, marker))
            update: dict[str, Any] = {name: getattr(current, name) + n for name, n in counts.items()}
            if listing_done:
                update["listing_done"] = True
            counted = current.model_copy(update=update)
            self._migrations[(tenant, migration_id)] = counted
            return counted

    def _event_expiry(self, event: TransitionEvent, progress: Progress) -> int:
        expiry = math.ceil((event.at + self._retention).timestamp())
        return min(expiry, progress.expires_at) if progress.expires_at is not None else expiry
