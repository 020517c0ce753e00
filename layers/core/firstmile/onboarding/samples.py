"""Demo data: sample users who walk the real state machine, each with a plausible history over the last week, so a
tenant can see analytics before real users arrive. They are tagged ``sample`` (analytics leaves them out) and expire
with their events."""

from __future__ import annotations

import functools
import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from firstmile.audit.events import action_event
from firstmile.audit.models import AuditEvent
from firstmile.clock import utc_now
from firstmile.onboarding import logic
from firstmile.onboarding.logic import FlagGate
from firstmile.onboarding.models import (
    Clock,
    FlowVersion,
    Milestone,
    OnboardingState,
    Progress,
    SampleUsersCreated,
    SampleUsersRequest,
    StepAction,
    StepCommand,
    Transition,
)
from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.versions import PublishedVersions


class SampleUsers:
    """Generates a tenant's sample users."""

    def __init__(
        self,
        store: OnboardingStorePort,
        versions: PublishedVersions,
        *,
        clock: Clock = utc_now,
        ttl_days: int = 7,
    ) -> None:
        self._store = store
        self._versions = versions
        self._clock = clock
        self._ttl = timedelta(days=ttl_days)

    def create(self, tenant: str, request: SampleUsersRequest, actor: str) -> SampleUsersCreated:
        """Generate demo users that walk the real state machine, each with its own plausible history over the last
        week. They are tagged ``sample`` (analytics leaves them out) and expire with their events. The audit entry
        goes with the first user's enrolment: no sample user is stored before it (a failure part-way leaves fewer
        users than it names, which expire like the others)."""
        flow = self._versions.latest(tenant, request.flow_id or self._versions.default_flow_id(tenant))
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
        expires = now + self._ttl
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


def _reach(progress: Progress, at: datetime, *, flow: FlowVersion, milestone: Milestone, gate: FlagGate) -> Transition:
    return logic.reach_milestone(progress, flow, milestone, at, gate)
