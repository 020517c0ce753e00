"""Onboarding use cases: what the handlers and the migration worker call.

Every user-facing method returns ``(status, progress_version)`` so the handler can set the ``ETag``. A method given
``expected_version`` (the client's ``If-Match``) writes only if the stored progress is at that version and answers a
lost race with ``VersionConflictError`` carrying the current *status*; without it, the method re-reads and retries
on conflict with jittered backoff, so no accepted change is ever lost (docs/decisions/0051).

Admin changes leave an audit entry written in the same transaction as the change (the store's ``event``).

Published flow versions never change, so each container keeps the ones it has read: a warm status call is one
``GetItem`` of the user's progress.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from firstmile import errors
from firstmile.audit.events import action_event
from firstmile.audit.models import AuditEvent
from firstmile.config import get_settings
from firstmile.errors import DependencyUnavailableError, VersionConflictError
from firstmile.observability import logger
from firstmile.onboarding import logic
from firstmile.onboarding.logic import FlagGate
from firstmile.onboarding.models import (
    Clock,
    DefaultFlow,
    DefaultFlowUpdate,
    FlowCreate,
    FlowDefinition,
    FlowDraft,
    FlowVersion,
    FlowVersionSummary,
    Migration,
    MigrationAccepted,
    MigrationPlanPreview,
    MigrationRequest,
    MigrationStatus,
    Milestone,
    OnboardingState,
    OnboardingStatus,
    Progress,
    RestartRequest,
    SampleConfiguration,
    SampleUsersCreated,
    SampleUsersRequest,
    StepAction,
    StepCommand,
    Transition,
)
from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.store import DraftConflictError, FlowExistsError, ProgressConflictError
from firstmile.platform.cursors import Page
from firstmile.platform.queues import JsonQueue
from firstmile.platform.resources import ONBOARDING_MIGRATIONS_QUEUE
from firstmile.platform.versioned import retry_on_conflict

T = TypeVar("T")
GateFor = Callable[[str, str, Mapping[str, str]], FlagGate]
"""The flag gate for one user of one tenant, with the attributes their token carries."""

_VERSION_CACHE_SIZE = 256


class MessageQueue(Protocol):
    def send(self, messages: Sequence[dict[str, Any]]) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _no_flags(_tenant: str, _user: str, _attributes: Mapping[str, str]) -> FlagGate:
    return logic.flags_unavailable


def _when_asked(gate_for: GateFor) -> GateFor:
    """``gate_for``, consulted only when a gated step first asks: a flow without gated steps never reads flags."""

    def deferred(tenant: str, user: str, attributes: Mapping[str, str]) -> FlagGate:
        resolved: list[FlagGate] = []

        def gate(flag_key: str) -> bool | None:
            if not resolved:
                resolved.append(gate_for(tenant, user, attributes))
            return resolved[0](flag_key)

        return gate

    return deferred


class OnboardingService:
    def __init__(
        self,
        store: OnboardingStorePort,
        *,
        queue: MessageQueue | None = None,
        clock: Clock = _utc_now,
        gate_for: GateFor = _no_flags,
        sleep: Callable[[float], None] = time.sleep,
        retry_attempts: int = 8,
        retry_base_delay_seconds: float = 0.01,
        sample_user_ttl_days: int = 7,
        dry_run_max_users: int = 1000,
        migration_page_size: int = 100,
        migration_batch_size: int = 25,
    ) -> None:
        self._store = store
        self._queue = queue
        self._clock = clock
        self._gate_for = _when_asked(gate_for)
        self._sleep = sleep
        self._retry_attempts = retry_attempts
        self._retry_base_delay = retry_base_delay_seconds
        self._sample_ttl = timedelta(days=sample_user_ttl_days)
        self._dry_run_max_users = dry_run_max_users
        self._page_size = migration_page_size
        self._batch_size = migration_batch_size
        self._versions: OrderedDict[tuple[str, str, int], FlowVersion] = OrderedDict()
        # The caller's token attributes, for flag gates (``seen_as``); none for admin and worker calls.
        self._attributes: Mapping[str, str] = {}

    def seen_as(self, attributes: Mapping[str, str]) -> OnboardingService:
        """This service for one caller: gating flags are evaluated with ``attributes`` (their token's). A shallow
        copy: it shares the store and the cache of published versions."""
        view = copy.copy(self)
        view._attributes = dict(attributes)
        return view

    @classmethod
    def from_settings(cls, store: OnboardingStorePort, *, gate_for: GateFor = _no_flags) -> OnboardingService:
        settings = get_settings()
        return cls(
            store,
            gate_for=gate_for,
            queue=JsonQueue(ONBOARDING_MIGRATIONS_QUEUE),
            sample_user_ttl_days=settings.sample_user_ttl_days,
            dry_run_max_users=settings.migration_dry_run_max_users,
        )

    # --- the user's own onboarding ------------------------------------------------------------------------

    def status(self, tenant: str, user: str) -> tuple[OnboardingStatus, int]:
        """The user's status; their first call enrols them on the tenant's default flow (BIZ_NO_DEFAULT_FLOW when
        the tenant has none)."""
        progress = self._store.get_progress(tenant, user) or self._enrol(tenant, user)
        flow = self._version(tenant, progress.flow_id, progress.flow_version)
        return logic.status_view(progress, flow, self._gate_for(tenant, user, self._attributes)), progress.version

    def step(
        self, tenant: str, user: str, command: StepCommand, expected_version: int | None
    ) -> tuple[OnboardingStatus, int]:
        gate = self._gate_for(tenant, user, self._attributes)
        return self._change(
            tenant,
            user,
            expected_version,
            lambda progress, flow, now: logic.apply_step(progress, flow, command, now, gate),
            gate,
        )

    def complete(self, tenant: str, user: str, expected_version: int | None) -> tuple[OnboardingStatus, int]:
        gate = self._gate_for(tenant, user, self._attributes)
        return self._change(
            tenant,
            user,
            expected_version,
            lambda progress, flow, now: logic.complete_onboarding(progress, flow, now, gate),
            gate,
        )

    def skip(self, tenant: str, user: str, expected_version: int | None) -> tuple[OnboardingStatus, int]:
        return self._change(
            tenant, user, expected_version, lambda progress, flow, now: logic.skip_onboarding(progress, flow, now)
        )

    def milestone(
        self, tenant: str, user: str, milestone: Milestone, expected_version: int | None
    ) -> tuple[OnboardingStatus, int]:
        gate = self._gate_for(tenant, user, self._attributes)
        return self._change(
            tenant,
            user,
            expected_version,
            lambda progress, flow, now: logic.reach_milestone(progress, flow, milestone, now, gate),
            gate,
        )

    def sample_configuration(self, tenant: str, user: str) -> SampleConfiguration:
        """The sample configuration of the user's flow version; before their first call, of the version they would
        be enrolled on (reading never enrols)."""
        progress = self._store.get_progress(tenant, user)
        if progress is not None:
            flow = self._version(tenant, progress.flow_id, progress.flow_version)
        else:
            flow = self._latest(tenant, self._default_flow_id(tenant))
        return SampleConfiguration(
            flow_id=flow.flow_id,
            flow_version=flow.version,
            sample_workflow=flow.definition.sample_workflow,
            sample_agent=flow.definition.sample_agent,
        )

    def _change(
        self,
        tenant: str,
        user: str,
        expected_version: int | None,
        command: Callable[[Progress, FlowVersion, datetime], Transition],
        gate: FlagGate | None = None,
    ) -> tuple[OnboardingStatus, int]:
        # The command's gate answers the status too: one evaluation context and one flag check per request.
        if gate is None:
            gate = self._gate_for(tenant, user, self._attributes)

        def attempt() -> tuple[Progress, FlowVersion]:
            progress = self._store.get_progress(tenant, user) or self._enrol(tenant, user)
            if expected_version is not None and progress.version != expected_version:
                raise ProgressConflictError(progress)
            flow = self._version(tenant, progress.flow_id, progress.flow_version)
            transition = command(progress, flow, self._clock())
            if transition.changed:
                self._store.write_transition(transition)
            return transition.progress, flow

        try:
            if expected_version is not None:
                progress, flow = attempt()
            else:
                progress, flow = retry_on_conflict(
                    attempt,
                    attempts=self._retry_attempts,
                    base_delay_seconds=self._retry_base_delay,
                    sleep=self._sleep,
                )
        except ProgressConflictError as conflict:
            raise self._conflict(tenant, user, conflict.progress, gate) from None
        return logic.status_view(progress, flow, gate), progress.version

    def _conflict(self, tenant: str, user: str, progress: Progress | None, gate: FlagGate) -> VersionConflictError:
        """The conflict a lost race answers: the current status and its version."""
        if progress is None:
            return VersionConflictError(None, None)
        flow = self._version(tenant, progress.flow_id, progress.flow_version)
        view = logic.status_view(progress, flow, gate)
        return VersionConflictError(view.model_dump(mode="json"), progress.version)

    def _enrol(self, tenant: str, user: str) -> Progress:
        flow = self._latest(tenant, self._default_flow_id(tenant))
        transition = logic.enrol(tenant, user, flow, self._clock())
        try:
            self._store.write_transition(transition)
        except ProgressConflictError as raced:
            # Two first calls at once: the other one enrolled the user; use what it wrote.
            if raced.progress is None:
                raise
            return raced.progress
        return transition.progress

    # --- flow versions (immutable, cached per container) --------------------------------------------------

    def _version(self, tenant: str, flow_id: str, version: int) -> FlowVersion:
        key = (tenant, flow_id, version)
        cached = self._versions.get(key)
        if cached is not None:
            self._versions.move_to_end(key)
            return cached
        found = self._store.get_version(tenant, flow_id, version)
        if found is None:
            raise errors.DomainError(errors.RES_FLOW_VERSION_NOT_FOUND, f"Flow {flow_id} has no version {version}.")
        self._remember(tenant, found)
        return found

    def _remember(self, tenant: str, version: FlowVersion) -> None:
        self._versions[(tenant, version.flow_id, version.version)] = version
        while len(self._versions) > _VERSION_CACHE_SIZE:
            self._versions.popitem(last=False)

    def _latest(self, tenant: str, flow_id: str) -> FlowVersion:
        draft = self._draft(tenant, flow_id)
        if not draft.latest_published_version:
            raise errors.DomainError(errors.BIZ_FLOW_NOT_PUBLISHED, f"Flow {flow_id} has no published version yet.")
        return self._version(tenant, flow_id, draft.latest_published_version)

    def _default_flow_id(self, tenant: str) -> str:
        default = self._store.get_default(tenant)
        if default is None:
            raise errors.DomainError(errors.BIZ_NO_DEFAULT_FLOW, "The tenant has not chosen a default onboarding flow.")
        return default.flow_id

    def _draft(self, tenant: str, flow_id: str) -> FlowDraft:
        draft = self._store.get_draft(tenant, flow_id)
        if draft is None:
            raise errors.DomainError(errors.RES_FLOW_NOT_FOUND, f"There is no flow {flow_id}.")
        return draft

    # --- admin: flows -------------------------------------------------------------------------------------

    def list_flows(self, tenant: str, *, limit: int, cursor: str | None) -> Page[FlowDraft]:
        page = self._store.list_drafts(tenant, limit=limit, cursor=cursor)
        default = self._store.get_default(tenant)
        items = [
            d.model_copy(update={"is_default": bool(default and default.flow_id == d.flow_id)}) for d in page.items
        ]
        return Page[FlowDraft](items=items, next_cursor=page.next_cursor)

    def create_flow(self, tenant: str, request: FlowCreate, actor: str) -> FlowDraft:
        """RES_FLOW_EXISTS when the id is taken. Audit ``onboarding.flow.created``."""
        now = self._clock()
        definition = FlowDefinition.model_validate(request.model_dump(exclude={"flow_id"}))
        draft = FlowDraft(
            flow_id=request.flow_id,
            definition=definition,
            version=1,
            created_at=now,
            updated_at=now,
            updated_by=actor,
        )
        event = action_event(
            tenant, actor, "onboarding.flow.created", f"flow:{request.flow_id}", steps=len(definition.steps)
        )
        try:
            return self._store.create_draft(tenant, draft, event=event)
        except FlowExistsError:
            raise errors.DomainError(errors.RES_FLOW_EXISTS, f"Flow {request.flow_id} already exists.") from None

    def get_flow(self, tenant: str, flow_id: str) -> FlowDraft:
        """RES_FLOW_NOT_FOUND when absent."""
        draft = self._draft(tenant, flow_id)
        default = self._store.get_default(tenant)
        return draft.model_copy(update={"is_default": bool(default and default.flow_id == flow_id)})

    def update_flow(
        self, tenant: str, flow_id: str, definition: FlowDefinition, expected_version: int | None, actor: str
    ) -> FlowDraft:
        """Replace the draft's content (published versions are untouched). Audit ``onboarding.flow.updated``."""

        def attempt() -> FlowDraft:
            draft = self._draft(tenant, flow_id)
            if expected_version is not None and draft.version != expected_version:
                raise DraftConflictError(draft)
            edited = draft.model_copy(
                update={"definition": definition, "updated_at": self._clock(), "updated_by": actor}
            )
            event = action_event(
                tenant, actor, "onboarding.flow.updated", f"flow:{flow_id}", draft_version=draft.version + 1
            )
            return self._store.replace_draft(tenant, edited, draft.version, event=event)

        return attempt() if expected_version is not None else self._retry(attempt)

    def publish(self, tenant: str, flow_id: str, expected_version: int | None, actor: str) -> FlowVersion:
        """Snapshot the draft as the next version. Audit ``onboarding.flow.published``."""

        def attempt() -> FlowVersion:
            draft = self._draft(tenant, flow_id)
            if expected_version is not None and draft.version != expected_version:
                raise DraftConflictError(draft)
            version = FlowVersion(
                flow_id=flow_id,
                version=(draft.latest_published_version or 0) + 1,
                definition=draft.definition,
                published_at=self._clock(),
                published_by=actor,
            )
            event = action_event(tenant, actor, "onboarding.flow.published", f"flow:{flow_id}", version=version.version)
            self._store.publish(tenant, draft, version, event=event)
            return version

        published = attempt() if expected_version is not None else self._retry(attempt)
        self._remember(tenant, published)
        return published

    def list_versions(self, tenant: str, flow_id: str, *, limit: int, cursor: str | None) -> Page[FlowVersionSummary]:
        self._draft(tenant, flow_id)
        return self._store.list_versions(tenant, flow_id, limit=limit, cursor=cursor)

    def get_version(self, tenant: str, flow_id: str, version: int) -> FlowVersion:
        return self._version(tenant, flow_id, version)

    def get_default(self, tenant: str) -> DefaultFlow:
        """BIZ_NO_DEFAULT_FLOW when none is set."""
        default = self._store.get_default(tenant)
        if default is None:
            raise errors.DomainError(errors.BIZ_NO_DEFAULT_FLOW, "The tenant has not chosen a default onboarding flow.")
        return default

    def set_default(self, tenant: str, request: DefaultFlowUpdate, actor: str) -> DefaultFlow:
        """The flow must exist and have a published version (BIZ_FLOW_NOT_PUBLISHED)."""
        self._latest(tenant, request.flow_id)
        return self._store.set_default(
            tenant,
            DefaultFlow(flow_id=request.flow_id, updated_at=self._clock(), updated_by=actor),
            event=action_event(tenant, actor, "onboarding.default_flow.set", f"flow:{request.flow_id}"),
        )

    # --- admin: users -------------------------------------------------------------------------------------

    def restart_user(self, tenant: str, user: str, request: RestartRequest, actor: str) -> tuple[OnboardingStatus, int]:
        """Start a user over on the latest version of ``request.flow_id`` or of the default flow.
        RES_ONBOARDING_NOT_FOUND for a user who never enrolled (their first status call enrols them)."""
        flow = self._latest(tenant, request.flow_id or self._default_flow_id(tenant))
        event = action_event(
            tenant, actor, "onboarding.user.restarted", f"user:{user}", flow=flow.flow_id, version=flow.version
        )

        def attempt() -> Progress:
            current = self._store.get_progress(tenant, user)
            if current is None:
                raise errors.DomainError(errors.RES_ONBOARDING_NOT_FOUND, f"User {user} has not started onboarding.")
            transition = logic.restart(current, tenant, user, flow, self._clock())
            self._store.write_transition(transition, event=event)
            return transition.progress

        progress = self._retry(attempt)
        return logic.status_view(progress, flow, self._gate_for(tenant, user, self._attributes)), progress.version

    def create_sample_users(self, tenant: str, request: SampleUsersRequest, actor: str) -> SampleUsersCreated:
        """Generate demo users that walk the real state machine, each with its own plausible history over the last
        week. They are tagged ``sample`` (analytics leaves them out) and expire with their events. The audit entry
        goes with the first user's enrolment: no sample user is stored before it (a failure part-way leaves fewer
        users than it names, which expire like the others)."""
        flow = self._latest(tenant, request.flow_id or self._default_flow_id(tenant))
        event: AuditEvent | None = action_event(
            tenant,
            actor,
            "onboarding.sample_users.created",
            f"flow:{flow.flow_id}",
            count=request.count,
            version=flow.version,
        )
        rng = random.Random(request.seed)  # noqa: S311 - demo data, not security
        now = self._clock()
        expires = now + self._sample_ttl
        outcomes = {state.value: 0 for state in OnboardingState}
        users: list[str] = []
        for _ in range(request.count):
            # Ids are random even with a seed: the seed repeats the walks, never the users.
            user = f"sample-{secrets.token_hex(8)}"
            ended = self._walk_sample_user(tenant, user, flow, rng, now, int(expires.timestamp()), event)
            event = None
            outcomes[ended.value] += 1
            users.append(user)
        return SampleUsersCreated(
            users=users, flow_id=flow.flow_id, flow_version=flow.version, outcomes=outcomes, expires_at=expires
        )

    def _walk_sample_user(
        self,
        tenant: str,
        user: str,
        flow: FlowVersion,
        rng: random.Random,
        now: datetime,
        expires_at: int,
        event: AuditEvent | None,
    ) -> OnboardingState:
        """One sample user's walk, written transition by transition through the same logic real users go through;
        ``event`` (if any) is appended with the enrolment.

        About 40% finish, 15% skip the onboarding at some point, the rest drop off at a random step.
        """
        at = now - timedelta(days=rng.uniform(0.5, 6.5))
        gate = logic.flags_unavailable
        transition = logic.enrol(tenant, user, flow, at, sample=True, expires_at=expires_at)
        self._store.write_transition(transition, event=event)
        progress = transition.progress
        visible, _ = logic.visible_steps(flow.definition, gate)
        persona = rng.random()
        stop_at = len(visible) if persona < 0.4 else rng.randrange(len(visible) + 1)

        def apply(make: Callable[[Progress, datetime], Transition]) -> None:
            nonlocal progress, at
            at = min(at + timedelta(minutes=rng.uniform(1, 90)), now)
            step = make(progress, at)
            if step.changed:
                self._store.write_transition(step)
                progress = step.progress

        def act(step_id: str, action: StepAction) -> Callable[[Progress, datetime], Transition]:
            command = StepCommand(step_id=step_id, action=action)
            return lambda current, moment: logic.apply_step(current, flow, command, moment, gate)

        for index, step_def in enumerate(visible):
            if index >= stop_at:
                if rng.random() < 0.5:
                    apply(act(step_def.id, StepAction.START))
                break
            if not step_def.required and rng.random() < 0.3:
                apply(act(step_def.id, StepAction.SKIP))
                continue
            apply(act(step_def.id, StepAction.START))
            apply(act(step_def.id, StepAction.COMPLETE))
        if stop_at >= len(visible):
            for milestone in (Milestone.SAMPLE_WORKFLOW, Milestone.FIRST_RUN):
                apply(functools.partial(_reach, flow=flow, milestone=milestone, gate=gate))
            apply(lambda current, moment: logic.complete_onboarding(current, flow, moment, gate))
        elif persona > 0.85:
            apply(lambda current, moment: logic.skip_onboarding(current, flow, moment))
        return progress.state

    # --- admin: migrations --------------------------------------------------------------------------------

    def migrate(self, tenant: str, request: MigrationRequest, actor: str) -> MigrationPlanPreview | MigrationAccepted:
        """Dry run: the preview. Otherwise: create the migration with its audit entry
        (``onboarding.migration.started``), enqueue its first page; answers ``MigrationAccepted``. A first page that
        cannot be sent withdraws the migration, with an entry ``onboarding.migration.withdrawn``."""
        self._draft(tenant, request.flow_id)
        source = self._version(tenant, request.flow_id, request.from_version)
        target = self._version(tenant, request.flow_id, request.to_version)
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
            self._migration_queue().send([_page_message(tenant, migration.migration_id, None)])
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
                tenant, source.flow_id, source.version, limit=min(self._page_size, room), start_key=start_key
            )
            examined.extend(page)
            if start_key is None or len(examined) >= self._dry_run_max_users:
                break
        return logic.plan_preview(
            source, target, request.step_map, examined, truncated=start_key is not None, now=self._clock()
        )

    def get_migration(self, tenant: str, migration_id: str) -> Migration:
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
            tenant, migration.flow_id, migration.from_version, limit=self._page_size, start_key=start_key
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
            self._migration_queue().send(messages)
        updated = self._store.record_page(
            tenant, migration.migration_id, token, users=len(users), batches=len(batches), last=next_key is None
        )
        if updated is not None:
            self._maybe_complete(tenant, updated)

    def _migrate_batch(self, tenant: str, migration: Migration, batch_id: str, users: list[str]) -> None:
        source = self._version(tenant, migration.flow_id, migration.from_version)
        target = self._version(tenant, migration.flow_id, migration.to_version)
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

    def _migration_queue(self) -> MessageQueue:
        if self._queue is None:
            raise RuntimeError("this service was built without a migration queue")
        return self._queue

    # --- shared -------------------------------------------------------------------------------------------

    def _retry(self, attempt: Callable[[], T]) -> T:
        return retry_on_conflict(
            attempt, attempts=self._retry_attempts, base_delay_seconds=self._retry_base_delay, sleep=self._sleep
        )


def _reach(progress: Progress, at: datetime, *, flow: FlowVersion, milestone: Milestone, gate: FlagGate) -> Transition:
    return logic.reach_milestone(progress, flow, milestone, at, gate)


def _page_message(tenant: str, migration_id: str, start_key: dict[str, Any] | None) -> dict[str, Any]:
    return {"kind": "page", "tenant": tenant, "migration_id": migration_id, "start_key": start_key}


def _page_token(start_key: dict[str, Any] | None) -> str:
    """A page's identity: where its listing starts."""
    raw = json.dumps(start_key, sort_keys=True, separators=(",", ":"), default=str) if start_key else "first"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]
