"""A user's own onboarding: their status, steps, completion, skipping, milestones and sample configuration.

Every change returns ``(status, progress_version)`` so the handler can set the ``ETag``. A change given
``expected_version`` (the client's ``If-Match``) writes only if the stored progress is at that version and answers a
lost race with ``VersionConflictError`` carrying the current *status*; without it, the change re-reads and retries
on conflict with jittered backoff, so no accepted change is ever lost (docs/decisions/0051).

``attributes`` are the caller's token attributes: gated steps evaluate their flags with them (``FlagGates``), and
only when a gated step asks, so a flow without one never reads flags.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from firstmile import errors
from firstmile.errors import DomainError, VersionConflictError
from firstmile.onboarding import logic
from firstmile.onboarding.gates import deferred_gate
from firstmile.onboarding.logic import FlagGate
from firstmile.onboarding.models import (
    FlowVersion,
    MeView,
    Milestone,
    OnboardingStatus,
    Progress,
    Rectification,
    SampleConfiguration,
    StepCommand,
    Transition,
)
from firstmile.onboarding.ports import EnrolmentConsent
from firstmile.onboarding.services import OnboardingService
from firstmile.onboarding.store import ProgressConflictError

NO_ATTRIBUTES: Mapping[str, str] = {}


def refuse_if_restricted(restricted: bool, user: str) -> None:
    """BIZ_PROCESSING_RESTRICTED (409) for a change of a user who restricted processing (Article 18)."""
    if restricted:
        raise DomainError(
            errors.BIZ_PROCESSING_RESTRICTED,
            f"User {user} restricted the processing of their data: nothing about them changes until they lift it "
            "(POST /v1/compliance/consent with rights.restrict_processing false).",
        )


_ENROL_ATTEMPTS = 3
Command = Callable[[Progress, FlowVersion, datetime], Transition]


class ProgressService(OnboardingService):
    """The use cases of a user's own onboarding, over the store, the shared published versions and the gates."""

    def status(
        self, tenant: str, user: str, *, attributes: Mapping[str, str] = NO_ATTRIBUTES
    ) -> tuple[OnboardingStatus, int]:
        """The user's status; their first call enrols them on the tenant's default flow (BIZ_NO_DEFAULT_FLOW when
        the tenant has none)."""
        progress = self._store.get_progress(tenant, user) or self._enrol(tenant, user, attributes)
        flow = self._versions.get(tenant, progress.flow_id, progress.flow_version)
        gate = deferred_gate(self._gates, tenant, user, attributes)
        return logic.status_view(progress, flow, gate, self._current_policies(tenant)), progress.version

    def step(
        self,
        tenant: str,
        user: str,
        command: StepCommand,
        expected_version: int | None,
        *,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> tuple[OnboardingStatus, int]:
        """Start, complete or skip one step."""
        gate = deferred_gate(self._gates, tenant, user, attributes)
        return self._change(
            tenant,
            user,
            expected_version,
            gate,
            lambda p, flow, now: logic.apply_step(p, flow, command, now, gate),
            attributes,
        )

    def complete(
        self, tenant: str, user: str, expected_version: int | None, *, attributes: Mapping[str, str] = NO_ATTRIBUTES
    ) -> tuple[OnboardingStatus, int]:
        """Finish the onboarding (every required visible step done)."""
        gate = deferred_gate(self._gates, tenant, user, attributes)
        return self._change(
            tenant,
            user,
            expected_version,
            gate,
            lambda p, flow, now: logic.complete_onboarding(p, flow, now, gate),
            attributes,
        )

    def skip(
        self,
        tenant: str,
        user: str,
        expected_version: int | None,
        *,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
        reason: str | None = None,
    ) -> tuple[OnboardingStatus, int]:
        """Leave the onboarding, saying why with a ``reason`` code if the caller gives one."""
        gate = deferred_gate(self._gates, tenant, user, attributes)
        return self._change(
            tenant,
            user,
            expected_version,
            gate,
            lambda p, flow, now: logic.skip_onboarding(p, flow, now, reason),
            attributes,
        )

    def milestone(
        self,
        tenant: str,
        user: str,
        milestone: Milestone,
        expected_version: int | None,
        *,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> tuple[OnboardingStatus, int]:
        """Record a milestone and complete the steps it stands for."""
        gate = deferred_gate(self._gates, tenant, user, attributes)
        return self._change(
            tenant,
            user,
            expected_version,
            gate,
            lambda p, flow, now: logic.reach_milestone(p, flow, milestone, now, gate),
            attributes,
        )

    def rectify(self, tenant: str, user: str, change: Rectification) -> MeView:
        """Correct the attributes kept about the user (Article 16): their rights request, so it is taken even while
        processing is restricted. Events written from now on carry the corrected values; counted ones stay as
        they were. RES_ONBOARDING_NOT_FOUND for a user Firstmile keeps nothing about."""

        def attempt() -> Progress:
            progress = self._store.get_progress(tenant, user)
            if progress is None:
                raise DomainError(errors.RES_ONBOARDING_NOT_FOUND, "Firstmile keeps no attributes of yours yet.")
            corrected: dict[str, str | None] = {**progress.segment}
            for name, value in change.attributes.items():
                corrected[name] = value
            segment = {name: value for name, value in corrected.items() if value is not None}
            if not self._store.set_segment(tenant, user, segment, progress.version):
                raise VersionConflictError(None, None)
            return progress.model_copy(update={"segment": segment, "version": progress.version + 1})

        progress = self._retry(attempt)
        return MeView(
            user_id=user,
            attributes=progress.segment,
            flow_id=progress.flow_id,
            flow_version=progress.flow_version,
            analytics_opt_out=progress.analytics_opt_out,
            restricted=progress.restricted,
            progress_version=progress.version,
        )

    def sample_configuration(self, tenant: str, user: str) -> SampleConfiguration:
        """The sample configuration of the user's flow version; before their first call, of the version they would
        be enrolled on (reading never enrols)."""
        progress = self._store.get_progress(tenant, user)
        if progress is not None:
            flow = self._versions.get(tenant, progress.flow_id, progress.flow_version)
        else:
            flow = self._versions.latest(tenant, self._versions.default_flow_id(tenant))
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
        gate: FlagGate,
        command: Command,
        attributes: Mapping[str, str],
    ) -> tuple[OnboardingStatus, int]:
        # The command's gate answers the status too: one evaluation context and one flag check per request.
        def attempt() -> tuple[Progress, FlowVersion]:
            progress = self._store.get_progress(tenant, user) or self._enrol(tenant, user, attributes)
            refuse_if_restricted(progress.restricted, user)
            if expected_version is not None and progress.version != expected_version:
                raise ProgressConflictError(progress)
            flow = self._versions.get(tenant, progress.flow_id, progress.flow_version)
            now = self._clock()
            # A dropped user who changes anything has come back (decision 0072).
            transition = logic.returned(command(progress, flow, now), progress, now)
            if transition.changed:
                self._store.write_transition(transition)
            return transition.progress, flow

        try:
            progress, flow = self._once_or_retried(attempt, expected_version)
        except ProgressConflictError as conflict:
            raise self._conflict(tenant, conflict.progress, gate) from None
        return logic.status_view(progress, flow, gate, self._current_policies(tenant)), progress.version

    def _conflict(self, tenant: str, progress: Progress | None, gate: FlagGate) -> VersionConflictError:
        """The conflict a lost race answers: the current status and its version."""
        if progress is None:
            return VersionConflictError(None, None)
        flow = self._versions.get(tenant, progress.flow_id, progress.flow_version)
        view = logic.status_view(progress, flow, gate, self._current_policies(tenant))
        return VersionConflictError(view.model_dump(mode="json"), progress.version)

    def _enrol(self, tenant: str, user: str, attributes: Mapping[str, str]) -> Progress:
        """Enrol the user on the default flow, out of analytics if their consent says so. The enrolment's
        transaction checks that their consent is still as read, so a withdrawal made meanwhile is never lost: the
        enrolment is tried again."""
        flow = self._versions.latest(tenant, self._versions.default_flow_id(tenant))
        for attempt in range(1, _ENROL_ATTEMPTS + 1):
            consent = self._consent.enrolment(tenant, user) if self._consent else EnrolmentConsent(False, {}, None)
            # Enrolling is processing: a user who restricted it is not enrolled until they lift the restriction.
            refuse_if_restricted(consent.restricted, user)
            transition = logic.enrol(
                tenant,
                user,
                flow,
                self._clock(),
                segment=logic.segment_of(attributes),
                analytics_opt_out=consent.analytics_opt_out,
                accepted_policies=consent.accepted_policies,
            )
            try:
                self._store.write_transition(transition, checks=[consent.check] if consent.check else ())
            except ProgressConflictError as raced:
                # Two first calls at once: the other one enrolled the user; use what it wrote.
                if raced.progress is not None:
                    return raced.progress
                # No progress stored: the consent changed while enrolling; read it again.
                if attempt == _ENROL_ATTEMPTS:
                    raise
                continue
            return transition.progress
        raise AssertionError("unreachable")
