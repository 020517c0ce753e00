"""Progressive rollouts: an admin starts a plan for one rule of a flag (its percentages, each held at least its
dwell, and an optional guard); the scheduled job checks every active plan, reads its guard (the onboarding
conversion of the users in the rollout against those out of it, through ``FlowParticipants``) and waits, advances,
completes or halts it per ``rollout.decide``. A step changes the flag and the plan in one transaction with its audit
entry (decision 0063)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from firstmile import errors as e
from firstmile.audit.events import action_event
from firstmile.clock import Clock, utc_now
from firstmile.flags import rollout as r
from firstmile.flags.admin import existing_flag
from firstmile.flags.models import Flag
from firstmile.flags.ports import FlagStorePort, FlowParticipants
from firstmile.flags.signals import ROLLOUT_HALTED_METRIC
from firstmile.flags.store import FlagConflictError
from firstmile.observability import logger, metrics


class NoParticipants:
    """For a deployment without onboarding: a guard never sees a user, so its plan waits for a sufficient sample."""

    def recent_participants(self, tenant: str, flow_id: str, since: datetime, limit: int) -> Sequence[r.Participant]:
        """Nobody."""
        return []


class Rollouts:
    """Rollout plans and the scheduled job that moves them."""

    def __init__(
        self,
        store: FlagStorePort,
        *,
        participants: FlowParticipants | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._participants = participants or NoParticipants()
        self._clock = clock

    def get_plan(self, tenant: str, key: str) -> r.RolloutPlan:
        """The flag's plan (RES_ROLLOUT_NOT_FOUND when it has none)."""
        plan = self._store.get_plan(tenant, key)
        if plan is None:
            raise e.DomainError(e.RES_ROLLOUT_NOT_FOUND, f"Flag {key!r} has no rollout plan.")
        return plan

    def start_plan(self, tenant: str, key: str, request: r.RolloutPlanRequest, actor: str) -> r.RolloutPlan:
        """Start a plan: the rule moves to the first step's percentage now, in the same transaction that stores
        the plan; the scheduled job takes it from there."""
        flag = existing_flag(self._store, tenant, key)
        rule = r.plan_rule(flag, request.rule_id)
        if rule is None:
            raise e.DomainError(
                e.VAL_ROLLOUT_RULE_INVALID, f"Flag {key!r} has no rule {request.rule_id!r} to roll out."
            )
        if request.steps[0].percentage < rule.percentage:
            # A plan raises exposure; starting below the rule would first take the feature away from users.
            raise e.DomainError(
                e.VAL_ROLLOUT_STEPS_INVALID,
                f"Rule {rule.id!r} already serves {rule.percentage:g}%; start the plan at or above that.",
            )
        previous = self._store.get_plan(tenant, key)
        if previous is not None and previous.status is r.RolloutStatus.ACTIVE:
            raise e.DomainError(
                e.BIZ_ROLLOUT_ACTIVE,
                f"Flag {key!r} is being rolled out; cancel that plan first (DELETE .../rollout).",
                extensions={"current": previous.model_dump(mode="json")},
            )
        now = self._clock()
        plan = r.RolloutPlan(
            **request.model_dump(),
            flag_key=key,
            started_at=now,
            step_started_at=now,
            updated_at=now,
            initial_percentage=rule.percentage,
            version=previous.version + 1 if previous else 1,
        )
        first = request.steps[0].percentage
        self._store.replace_flag(
            tenant,
            r.with_percentage(flag, rule.id, first),
            flag.version,
            actor,
            now,
            event=action_event(tenant, actor, "flag.rollout.started", f"flag:{key}", rule=rule.id, percentage=first),
            also=self._store.plan_writes(tenant, plan, None),
        )
        return plan

    def cancel_plan(self, tenant: str, key: str, actor: str) -> r.RolloutPlan:
        """Stop an active plan where it stands (the rule keeps its current percentage)."""
        plan = self.get_plan(tenant, key)
        if plan.status is not r.RolloutStatus.ACTIVE:
            raise e.DomainError(e.BIZ_ROLLOUT_ENDED, f"The rollout of {key!r} already ended ({plan.status.value}).")
        ended = self._ended(plan, r.RolloutStatus.CANCELLED, f"cancelled by {actor}", self._clock())
        event = action_event(tenant, actor, "flag.rollout.cancelled", f"flag:{key}", step=plan.step_index + 1)
        self._store.put_plan(tenant, ended, plan.version, event=event)
        return ended

    def run_rollouts(self) -> dict[str, int]:
        """The scheduled job: check every active plan of the deployment once. A plan that fails is logged and the
        others still run; the job then fails, so the schedule retries it (every step is conditional and
        idempotent) and its dead-letter queue keeps it if retries run out."""
        outcomes: Counter[str] = Counter()
        for tenant, key in self._store.active_plans():
            try:
                outcomes[self.advance_plan(tenant, key).value] += 1
            except Exception:
                logger.exception("rollout check failed", extra={"tenant": tenant, "flag": key})
                outcomes["failed"] += 1
        if outcomes["failed"]:
            raise RuntimeError(f"{outcomes['failed']} rollout checks failed")
        return dict(outcomes)

    def advance_plan(self, tenant: str, key: str) -> r.Action:
        """Check one plan: read its guard, then wait, advance, complete, halt (rolling the percentage back) or
        abandon it, per ``rollout.decide``."""
        plan = self._store.get_plan(tenant, key)
        if plan is None or plan.status is not r.RolloutStatus.ACTIVE:
            return r.Action.WAIT
        now = self._clock()
        flag = self._store.get_flag(tenant, key)
        rule = r.plan_rule(flag, plan.rule_id)
        reading = None
        if plan.guard is not None and flag is not None and rule is not None:
            # Users who enrolled while the current step held: the arms are the current threshold's.
            since = plan.step_started_at
            users = self._participants.recent_participants(tenant, plan.guard.flow_id, since, plan.guard.max_users)
            reading = r.conversion_reading(plan.guard, flag, rule, users, since, now)
        decision = r.decide(plan, flag, reading, now)
        actor = "system:rollout"
        if decision.action is r.Action.WAIT:
            if reading is not None:
                updated = plan.model_copy(
                    update={"last_reading": reading, "updated_at": now, "version": plan.version + 1}
                )
                self._store.put_plan(tenant, updated, plan.version)
            return decision.action
        if decision.action is r.Action.ADVANCE:
            moved = plan.model_copy(
                update={
                    "step_index": plan.step_index + 1,
                    "step_started_at": now,
                    "last_reading": reading,
                    "updated_at": now,
                    "version": plan.version + 1,
                }
            )
            self._move(tenant, flag, plan, moved, decision, actor, now, "flag.rollout.advanced")
        elif decision.action is r.Action.HALT:
            halted = self._ended(plan, r.RolloutStatus.HALTED, decision.reason, now, reading)
            self._move(tenant, flag, plan, halted, decision, actor, now, "flag.rollout.halted")
            # The alarm: a metric the deployment alarms on, and an error line with everything an operator needs.
            metrics.add_metric(name=ROLLOUT_HALTED_METRIC, unit="Count", value=1)
            logger.error(
                "rollout halted by its guard",
                extra={
                    "tenant": tenant,
                    "flag": key,
                    "reason": decision.reason,
                    "reading": reading and reading.model_dump(mode="json"),
                },
            )
        else:
            status = r.RolloutStatus.COMPLETED if decision.action is r.Action.COMPLETE else r.RolloutStatus.HALTED
            ended = self._ended(plan, status, decision.reason, now, reading)
            action = "flag.rollout.completed" if status is r.RolloutStatus.COMPLETED else "flag.rollout.abandoned"
            event = action_event(tenant, actor, action, f"flag:{key}", reason=decision.reason)
            self._store.put_plan(tenant, ended, plan.version, event=event)
        return decision.action

    def _move(
        self,
        tenant: str,
        flag: Flag | None,
        plan: r.RolloutPlan,
        updated: r.RolloutPlan,
        decision: r.Decision,
        actor: str,
        now: datetime,
        action: str,
    ) -> None:
        """Set the rule's percentage, store the plan's new state and append the step's audit entry (``action``) in
        one transaction. A refused transaction whose plan is nevertheless stored as ``updated`` was this very step:
        an attempt applied it (entry included), its answer was lost (a timeout) and it was sent again. That is
        success, not a conflict."""
        if flag is None or decision.percentage is None:  # decide() moves only rules that exist
            raise ValueError(f"nothing to move for {decision}")
        event = action_event(
            tenant, actor, action, f"flag:{plan.flag_key}", percentage=decision.percentage, reason=decision.reason
        )
        try:
            self._store.replace_flag(
                tenant,
                r.with_percentage(flag, plan.rule_id, decision.percentage),
                flag.version,
                actor,
                now,
                event=event,
                also=self._store.plan_writes(tenant, updated, plan.version),
            )
        except FlagConflictError:
            if self._store.get_plan(tenant, plan.flag_key) != updated:
                raise

    @staticmethod
    def _ended(
        plan: r.RolloutPlan,
        status: r.RolloutStatus,
        reason: str,
        now: datetime,
        reading: r.GuardReading | None = None,
    ) -> r.RolloutPlan:
        return plan.model_copy(
            update={
                "status": status,
                "ended_reason": reason,
                "updated_at": now,
                "last_reading": reading or plan.last_reading,
                "version": plan.version + 1,
            }
        )
