"""A tenant's onboarding flows as its admins manage them: drafts, published versions, the default flow, and starting
a user over. Each change leaves an audit entry written in the same transaction as the change (the store's
``event``); an edit of a draft given ``expected_version`` (``If-Match``) answers a lost race with the current draft,
one without it re-reads and retries."""

from __future__ import annotations

from firstmile import errors
from firstmile.audit.events import action_event
from firstmile.onboarding import logic
from firstmile.onboarding.gates import deferred_gate
from firstmile.onboarding.models import (
    DefaultFlow,
    DefaultFlowUpdate,
    FlowCreate,
    FlowDefinition,
    FlowDraft,
    FlowVersion,
    FlowVersionSummary,
    OnboardingStatus,
    Progress,
    RestartRequest,
)
from firstmile.onboarding.progress import refuse_if_restricted
from firstmile.onboarding.services import OnboardingService
from firstmile.onboarding.store import DraftConflictError, FlowExistsError
from firstmile.platform.cursors import Page


class FlowAdmin(OnboardingService):
    """The use cases of a tenant's flow admins, over the store and the shared published versions."""

    def list_flows(self, tenant: str, *, limit: int, cursor: str | None) -> Page[FlowDraft]:
        """One page of the tenant's drafts, each marked whether it is the default flow."""
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
            flow_id=request.flow_id, definition=definition, version=1, created_at=now, updated_at=now, updated_by=actor
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
        draft = self._versions.draft(tenant, flow_id)
        default = self._store.get_default(tenant)
        return draft.model_copy(update={"is_default": bool(default and default.flow_id == flow_id)})

    def update_flow(
        self, tenant: str, flow_id: str, definition: FlowDefinition, expected_version: int | None, actor: str
    ) -> FlowDraft:
        """Replace the draft's content (published versions are untouched). Audit ``onboarding.flow.updated``."""

        def attempt() -> FlowDraft:
            draft = self._versions.draft(tenant, flow_id)
            if expected_version is not None and draft.version != expected_version:
                raise DraftConflictError(draft)
            edited = draft.model_copy(
                update={"definition": definition, "updated_at": self._clock(), "updated_by": actor}
            )
            event = action_event(
                tenant, actor, "onboarding.flow.updated", f"flow:{flow_id}", draft_version=draft.version + 1
            )
            return self._store.replace_draft(tenant, edited, draft.version, event=event)

        return self._once_or_retried(attempt, expected_version)

    def publish(self, tenant: str, flow_id: str, expected_version: int | None, actor: str) -> FlowVersion:
        """Snapshot the draft as the next version. Audit ``onboarding.flow.published``."""

        def attempt() -> FlowVersion:
            draft = self._versions.draft(tenant, flow_id)
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

        published = self._once_or_retried(attempt, expected_version)
        self._versions.remember(tenant, published)
        return published

    def list_versions(self, tenant: str, flow_id: str, *, limit: int, cursor: str | None) -> Page[FlowVersionSummary]:
        """One page of the flow's published versions (RES_FLOW_NOT_FOUND for no such flow)."""
        self._versions.draft(tenant, flow_id)
        return self._store.list_versions(tenant, flow_id, limit=limit, cursor=cursor)

    def get_version(self, tenant: str, flow_id: str, version: int) -> FlowVersion:
        """One published version (RES_FLOW_VERSION_NOT_FOUND when absent)."""
        return self._versions.get(tenant, flow_id, version)

    def get_default(self, tenant: str) -> DefaultFlow:
        """BIZ_NO_DEFAULT_FLOW when none is set."""
        default = self._store.get_default(tenant)
        if default is None:
            raise errors.DomainError(errors.BIZ_NO_DEFAULT_FLOW, "The tenant has not chosen a default onboarding flow.")
        return default

    def set_default(self, tenant: str, request: DefaultFlowUpdate, actor: str) -> DefaultFlow:
        """The flow must exist and have a published version (BIZ_FLOW_NOT_PUBLISHED)."""
        self._versions.latest(tenant, request.flow_id)
        return self._store.set_default(
            tenant,
            DefaultFlow(flow_id=request.flow_id, updated_at=self._clock(), updated_by=actor),
            event=action_event(tenant, actor, "onboarding.default_flow.set", f"flow:{request.flow_id}"),
        )

    def restart_user(self, tenant: str, user: str, request: RestartRequest, actor: str) -> tuple[OnboardingStatus, int]:
        """Start a user over on the latest version of ``request.flow_id`` or of the default flow.
        RES_ONBOARDING_NOT_FOUND for a user who never enrolled (their first status call enrols them)."""
        flow = self._versions.latest(tenant, request.flow_id or self._versions.default_flow_id(tenant))
        event = action_event(
            tenant, actor, "onboarding.user.restarted", f"user:{user}", flow=flow.flow_id, version=flow.version
        )

        def attempt() -> Progress:
            current = self._store.get_progress(tenant, user)
            if current is None:
                raise errors.DomainError(errors.RES_ONBOARDING_NOT_FOUND, f"User {user} has not started onboarding.")
            refuse_if_restricted(current.restricted, user)
            transition = logic.restart(current, tenant, user, flow, self._clock())
            self._store.write_transition(transition, event=event)
            return transition.progress

        progress = self._retry(attempt)
        # An admin's view: gated steps are evaluated without the user's token attributes.
        gate = deferred_gate(self._gates, tenant, user, {})
        return logic.status_view(progress, flow, gate), progress.version
