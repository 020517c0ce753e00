"""What onboarding's services need of storage, as a protocol: ``OnboardingStore`` (the table) implements it, and so
does the unit tests' in-memory fake; both pass the same contract suite (tests/contracts/onboarding.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple, Protocol

from firstmile.audit.models import AuditEvent
from firstmile.onboarding.models import (
    DefaultFlow,
    Enrolment,
    FlowDraft,
    FlowVersion,
    FlowVersionSummary,
    Migration,
    OnboardingSettings,
    Progress,
    Transition,
    TransitionEvent,
    UsersOnVersion,
)
from firstmile.platform.cursors import Page


class OnboardingStorePort(Protocol):
    """Flows (drafts, immutable versions, the default), users' progress and events, and migrations. Audited changes
    store their ``event`` together with the change: both or neither."""

    # --- flows ---------------------------------------------------------------------------------------------

    def create_draft(self, tenant: str, draft: FlowDraft, *, event: AuditEvent) -> FlowDraft:
        """Store a new draft as edit version 1; ``FlowExistsError`` when the flow id is taken."""
        ...

    def get_draft(self, tenant: str, flow_id: str) -> FlowDraft | None:
        """The draft as stored now."""
        ...

    def replace_draft(self, tenant: str, draft: FlowDraft, expected_version: int, *, event: AuditEvent) -> FlowDraft:
        """Store ``draft`` as version ``expected_version + 1``; ``DraftConflictError`` with the stored draft (or
        ``None`` when it has gone) when another version is stored."""
        ...

    def list_drafts(self, tenant: str, *, limit: int, cursor: str | None) -> Page[FlowDraft]:
        """A page of the tenant's drafts in flow-id order; cursors only for the list they came from."""
        ...

    def publish(self, tenant: str, draft: FlowDraft, version: FlowVersion, *, event: AuditEvent) -> FlowDraft:
        """Store ``version`` and advance the draft's ``latest_published_version`` and edit version, together, if the
        draft is still at ``draft.version``; the updated draft, else ``DraftConflictError`` and nothing stored."""
        ...

    def get_version(self, tenant: str, flow_id: str, version: int) -> FlowVersion | None:
        """A published version (they never change)."""
        ...

    def list_versions(self, tenant: str, flow_id: str, *, limit: int, cursor: str | None) -> Page[FlowVersionSummary]:
        """A page of a flow's published versions, newest first, as summaries."""
        ...

    def get_default(self, tenant: str) -> DefaultFlow | None:
        """The tenant's default flow, if one is set (as stored now)."""
        ...

    def set_default(self, tenant: str, default: DefaultFlow, *, event: AuditEvent) -> DefaultFlow:
        """Make ``default`` the tenant's default flow; the last writer wins."""
        ...

    # --- progress ------------------------------------------------------------------------------------------

    def get_progress(self, tenant: str, user: str) -> Progress | None:
        """The user's progress as stored now."""
        ...

    def set_segment(self, tenant: str, user: str, segment: dict[str, str], expected_version: int) -> bool:
        """Replace the segment values kept on the user's progress (a rectification), moving its version on, if it is
        still at ``expected_version``; ``False``, writing nothing, otherwise (or when it has gone)."""
        ...

    def get_settings(self, tenant: str) -> OnboardingSettings:
        """The tenant's onboarding settings, the defaults until an admin sets them."""
        ...

    def set_settings(self, tenant: str, settings: OnboardingSettings, *, event: AuditEvent) -> OnboardingSettings:
        """Replace the tenant's onboarding settings, with ``event`` in the audit log."""
        ...

    def list_idle(self, day: date, shard: int) -> list[tuple[str, str]]:
        """(tenant, user) of the users in onboarding (not sample users, not dropped) whose last change was on
        ``day``, in ``shard`` of ``IDLE_SHARDS``."""
        ...

    def write_transition(
        self, transition: Transition, *, event: AuditEvent | None = None, checks: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Store the progress (if the stored one is at ``progress.version - 1``, absent for 0) and its events, with
        ``event`` when given, together, if every one of ``checks`` (ConditionChecks of other items) holds;
        ``ProgressConflictError`` with the stored progress otherwise. Nothing when there are no events;
        ``ValueError`` for events of another user or more than fit in one transition."""
        ...

    def list_events(self, tenant: str, user: str) -> list[TransitionEvent]:
        """The user's events, oldest first, without expired ones."""
        ...

    def list_progress_on_version(
        self, users: UsersOnVersion, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Progress], dict[str, Any] | None]:
        """A page of the progress of ``users``, in enrolment order, and the key to continue from (``None`` after the
        last page). The key holds strings only (it travels in queue messages as JSON); ``ValueError`` for a key of
        another list. The list may lag a moment behind writes: callers check the progress they get."""
        ...

    def list_enrolments(
        self, users: UsersOnVersion, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Enrolment], dict[str, Any] | None]:
        """The same list as ``list_progress_on_version`` (same order, same keys), holding only each user's
        enrolment: what listing a version's users and comparing their conversion need, at the cost of the index
        alone."""
        ...

    # --- migrations ----------------------------------------------------------------------------------------

    def create_migration(self, tenant: str, migration: Migration, *, event: AuditEvent) -> Migration:
        """Store a new migration; ``VersionConflictError`` when the id is taken."""
        ...

    def delete_migration(self, tenant: str, migration_id: str, *, event: AuditEvent) -> None:
        """Remove a migration that never started."""
        ...

    def get_migration(self, tenant: str, migration_id: str) -> Migration | None:
        """The migration as stored now."""
        ...

    def record_page(
        self, tenant: str, migration_id: str, page_token: str, *, users: int, batches: int, last: bool
    ) -> Migration | None:
        """Count one listed page once; the updated migration, ``None`` when the page was counted before;
        ``NotFoundError`` when there is no such migration."""
        ...

    def page_counted(self, tenant: str, migration_id: str, page_token: str) -> bool:
        """Whether ``record_page`` already counted this page."""
        ...

    def record_batch(
        self, tenant: str, migration_id: str, batch_id: str, *, migrated: int, skipped: int
    ) -> Migration | None:
        """Count one processed batch once; ``None`` when it was counted before."""
        ...

    def complete_migration(self, tenant: str, migration_id: str, at: str, *, event: AuditEvent) -> bool:
        """Mark a running migration completed (with ``event``) once its listing and every batch are done; ``True``
        when this call completed it."""
        ...


class EnrolmentConsent(NamedTuple):
    """What an enrolment takes from the user's consent: whether they are out of analytics, the policy versions they
    accepted, and a check that their consent is still as read (for the enrolment's transaction; ``None``: none)."""

    analytics_opt_out: bool
    accepted_policies: dict[str, str]
    check: dict[str, Any] | None
    # The user restricted processing (Article 18): they are not enrolled.
    restricted: bool = False


class ConsentLookup(Protocol):
    """What an enrolment needs of the user's consent (privacy's ``ConsentStore``)."""

    def enrolment(self, tenant: str, user: str) -> EnrolmentConsent:
        """The user's consent as an enrolment takes it."""
        ...


class CurrentPolicies(Protocol):
    """The tenant's current policy versions (privacy's ``PolicyVersions``), as the status compares them."""

    def current(self, tenant: str) -> dict[str, str]:
        """Type -> current version; empty when none is published."""
        ...
