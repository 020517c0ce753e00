"""Moving a flow's users from one published version to another: an admin starts a migration (or previews it with a
dry run), and the migration queue's consumer lists the users page by page and migrates them batch by batch. Each
page and batch is counted once however often its message is delivered; the last one completes the migration with
an audit entry."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any, Protocol

from firstmile import errors
from firstmile.audit.events import action_event
from firstmile.clock import utc_now
from firstmile.errors import DependencyUnavailableError
from firstmile.observability import logger
from firstmile.onboarding import logic
from firstmile.onboarding.models import (
    Clock,
    FlowVersion,
    Migration,
    MigrationAccepted,
    MigrationPlanPreview,
    MigrationRequest,
    MigrationStatus,
    Progress,
    UsersOnVersion,
)
from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.versions import PublishedVersions
from firstmile.platform.versioned import ConflictRetry


class MessageQueue(Protocol):
    """Where the migration's pages and batches go (the migration queue)."""

    def send(self, messages: Sequence[dict[str, Any]]) -> None: ...


class Migrations:
    """Starting, reading and running version migrations."""

    def __init__(
        self,
        store: OnboardingStorePort,
        versions: PublishedVersions,
        queue: MessageQueue,
        *,
        clock: Clock = utc_now,
        retry: ConflictRetry | None = None,
        dry_run_max_users: int = 1000,
        page_size: int = 100,
        batch_size: int = 25,
    ) -> None:
        self._store = store
        self._versions = versions
        self._queue = queue
        self._clock = clock
        self._retry = retry or ConflictRetry()
        self._dry_run_max_users = dry_run_max_users
        self._page_size = page_size
        self._batch_size = batch_size

    def migrate(self, tenant: str, request: MigrationRequest, actor: str) -> MigrationPlanPreview | MigrationAccepted:
        """Dry run: the preview. Otherwise: create the migration with its audit entry
        (``onboarding.migration.started``), enqueue its first page; answers ``MigrationAccepted``. A first page that
        cannot be sent withdraws the migration, with an entry ``onboarding.migration.withdrawn``."""
        self._versions.draft(tenant, request.flow_id)
        source = self._versions.get(tenant, request.flow_id, request.from_version)
        target = self._versions.get(tenant, request.flow_id, request.to_version)
        logic.validate_step_map(source.definition, target.definition, request.step_map)
        if request.dry_run:
            return self._preview(tenant, source, target, request)
        migration = Migration(
            migration_id="mig_" + secrets.token_urlsafe(16),
            flow_id=request.flow_id,
            from_version=request.from_version,
            to_version=request.to_version,
            step_map=request.step_map,
            status=MigrationStatus.RUNNING,
            created_at=self._clock(),
            created_by=actor,
        )
        target_id = f"migration:{migration.migration_id}"
        started = action_event(
            tenant,
            actor,
            "onboarding.migration.started",
            target_id,
            flow=request.flow_id,
            from_version=request.from_version,
            to_version=request.to_version,
            operations=len(request.step_map),
        )
        self._store.create_migration(tenant, migration, event=started)
        try:
            self._queue.send([_page_message(tenant, migration.migration_id, None)])
        except DependencyUnavailableError:
            # Nothing was enqueued (or, if the answer alone was lost, a message the worker drops as unknown): the
            # migration is withdrawn rather than left running with nobody to run it, and the request answers 503.
            withdrawn = action_event(
                tenant, actor, "onboarding.migration.withdrawn", target_id, reason="the first page could not be queued"
            )
            with contextlib.suppress(DependencyUnavailableError):
                self._store.delete_migration(tenant, migration.migration_id, event=withdrawn)
            raise
        return MigrationAccepted(
            migration_id=migration.migration_id,
            status=migration.status,
            status_url=f"/v1/admin/onboarding/migrations/{migration.migration_id}",
        )

    def _preview(
        self, tenant: str, source: FlowVersion, target: FlowVersion, request: MigrationRequest
    ) -> MigrationPlanPreview:
        examined: list[Progress] = []
        start_key: dict[str, Any] | None = None
        while True:
            room = self._dry_run_max_users - len(examined)
            page, start_key = self._store.list_progress_on_version(
                UsersOnVersion(tenant, source.flow_id, source.version),
                limit=min(self._page_size, room),
                start_key=start_key,
            )
            examined.extend(page)
            if start_key is None or len(examined) >= self._dry_run_max_users:
                break
        return logic.plan_preview(
            source, target, request.step_map, examined, truncated=start_key is not None, now=self._clock()
        )

    def get_migration(self, tenant: str, migration_id: str) -> Migration:
        """The migration and its counters (RES_MIGRATION_NOT_FOUND when absent)."""
        migration = self._store.get_migration(tenant, migration_id)
        if migration is None:
            raise errors.DomainError(errors.RES_MIGRATION_NOT_FOUND, f"There is no migration {migration_id}.")
        return migration

    def handle_migration_message(self, message: dict[str, Any]) -> None:
        """One SQS message of the migration queue (a ``page`` to list or a ``batch`` of users to migrate).
        Raises to have the message retried (and eventually dead-lettered)."""
        kind, tenant, migration_id = message.get("kind"), message.get("tenant"), message.get("migration_id")
        if kind not in ("page", "batch") or not isinstance(tenant, str) or not isinstance(migration_id, str):
            raise ValueError("not a migration message")
        migration = self._store.get_migration(tenant, migration_id)
        if migration is None:
            # Nothing to act on: the message outlived its migration (or names none). Logged, not retried.
            logger.warning("migration message for an unknown migration", extra={"migration_id": migration_id})
            return
        if kind == "page":
            self._list_page(tenant, migration, message.get("start_key"))
        else:
            users = message.get("users")
            batch_id = message.get("batch_id")
            if not isinstance(users, list) or not isinstance(batch_id, str):
                raise ValueError("a batch message names its users and its id")
            self._migrate_batch(tenant, migration, batch_id, [str(u) for u in users])

    def _list_page(self, tenant: str, migration: Migration, start_key: dict[str, Any] | None) -> None:
        """List one page of users still on the source version, enqueue them in batches and the next page, then
        count the page (once, however often the message is delivered)."""
        token = _page_token(start_key)
        if self._store.page_counted(tenant, migration.migration_id, token):
            return
        enrolments, next_key = self._store.list_enrolments(
            UsersOnVersion(tenant, migration.flow_id, migration.from_version),
            limit=self._page_size,
            start_key=start_key,
        )
        users = [enrolment.user for enrolment in enrolments]
        batches = [users[i : i + self._batch_size] for i in range(0, len(users), self._batch_size)]
        messages: list[dict[str, Any]] = [
            {
                "kind": "batch",
                "tenant": tenant,
                "migration_id": migration.migration_id,
                "batch_id": f"{token}-{n}",
                "users": batch,
            }
            for n, batch in enumerate(batches)
        ]
        if next_key is not None:
            messages.append(_page_message(tenant, migration.migration_id, next_key))
        if messages:
            self._queue.send(messages)
        updated = self._store.record_page(
            tenant, migration.migration_id, token, users=len(users), batches=len(batches), last=next_key is None
        )
        if updated is not None:
            self._maybe_complete(tenant, updated)

    def _migrate_batch(self, tenant: str, migration: Migration, batch_id: str, users: list[str]) -> None:
        source = self._versions.get(tenant, migration.flow_id, migration.from_version)
        target = self._versions.get(tenant, migration.flow_id, migration.to_version)
        migrated = skipped = 0
        for user in users:
            if self._migrate_user(tenant, user, migration, source, target):
                migrated += 1
            else:
                skipped += 1
        updated = self._store.record_batch(tenant, migration.migration_id, batch_id, migrated=migrated, skipped=skipped)
        if updated is not None:
            self._maybe_complete(tenant, updated)

    def _migrate_user(
        self, tenant: str, user: str, migration: Migration, source: FlowVersion, target: FlowVersion
    ) -> bool:
        """Move one user if still on the source version; ``True`` when this migration has moved them (now or on an
        earlier delivery of the same batch)."""

        def attempt() -> bool:
            progress = self._store.get_progress(tenant, user)
            if progress is None:
                return False
            if migration.migration_id in progress.migrations:
                return True
            if (progress.flow_id, progress.flow_version) != (source.flow_id, source.version):
                return False
            if progress.restricted:
                return False  # processing restricted (Article 18): left on their version, counted as skipped
            transition = logic.migrate_progress(
                progress, source, target, migration.step_map, migration.migration_id, self._clock()
            )
            self._store.write_transition(transition)
            return True

        return self._retry(attempt)

    def _maybe_complete(self, tenant: str, migration: Migration) -> None:
        if not migration.listing_done or migration.batches_done < migration.batches_enqueued:
            return
        event = action_event(
            tenant,
            "system",
            "onboarding.migration.completed",
            f"migration:{migration.migration_id}",
            migrated=migration.users_migrated,
            skipped=migration.users_skipped,
        )
        self._store.complete_migration(tenant, migration.migration_id, self._clock().isoformat(), event=event)


def _page_message(tenant: str, migration_id: str, start_key: dict[str, Any] | None) -> dict[str, Any]:
    return {"kind": "page", "tenant": tenant, "migration_id": migration_id, "start_key": start_key}


def _page_token(start_key: dict[str, Any] | None) -> str:
    """A page's identity: where its listing starts."""
    raw = json.dumps(start_key, sort_keys=True, separators=(",", ":"), default=str) if start_key else "first"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]
