"""The use cases of feature flags: what the admin routes, the evaluation route, the rollout job, the exposure worker
and onboarding's gate do, over the store, the container's flag-set cache and the audit log.

Every change of a flag is checked against the tenant's whole set (``logic.validate_flag_set``: no prerequisite
cycles, no references to missing flags, variants or segments), makes a new version with its diff, and leaves an
audit entry written in the same transaction as the change (the store's ``event``). A change needs the version it was
made on (``If-Match``, or the body's ``version``): two admins never overwrite each other silently.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from firstmile import errors as e
from firstmile.audit.events import action_event
from firstmile.audit.models import AuditEvent
from firstmile.flags import logic
from firstmile.flags import rollout as r
from firstmile.flags.cache import FlagSetCache
from firstmile.flags.history import MAX_KILL_SWITCH_CHANGES, FlagHistoryPage, flag_diff
from firstmile.flags.models import (
    USER_ID_ATTRIBUTE,
    Condition,
    EvaluationContext,
    Flag,
    FlagSet,
    FlagSettings,
    Operator,
    Rule,
    Segment,
)
from firstmile.flags.ports import FlagStorePort
from firstmile.flags.shapes import (
    EvaluationAnswer,
    EvaluationRequest,
    ExposureReport,
    FlagKillSwitch,
    FlagView,
    KillSwitchChange,
    KillSwitchEvent,
    KillSwitchState,
)
from firstmile.flags.signals import EXPOSURES_DROPPED_METRIC, ROLLOUT_HALTED_METRIC
from firstmile.flags.store import FlagConflictError, FlagExistsError
from firstmile.observability import logger, metrics
from firstmile.onboarding.models import Enrolment
from firstmile.platform.cursors import Page

MAX_EXPOSURE_DAYS = 90
# Conditions on user_id that name users: a user is taken out of them on erasure.
_NAMING = frozenset({Operator.EQ, Operator.IN})
_EXCLUDING = frozenset({Operator.NEQ, Operator.NOT_IN})


class MessageQueue(Protocol):
    def send(self, messages: Sequence[dict[str, Any]]) -> None: ...


GuardUsers = Callable[[str, str, datetime, int], list[Enrolment]]
"""(tenant, flow id, enrolled since, at most) -> onboarding progress of users of that flow who enrolled since then,
newest flow versions first."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _no_users(_tenant: str, _flow: str, _since: datetime, _limit: int) -> list[Enrolment]:
    return []


class FlagService:
    def __init__(
        self,
        store: FlagStorePort,
        cache: FlagSetCache,
        *,
        exposures: MessageQueue | None = None,
        guard_users: GuardUsers = _no_users,
        clock: Callable[[], datetime] = _utc_now,
        sample: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._cache = cache
        self._exposures = exposures
        self._guard_users = guard_users
        self._clock = clock
        self._sample = sample

    # --- flags ---------------------------------------------------------------------------------------------

    def list_flags(self, tenant: str, *, limit: int, cursor: str | None) -> Page[FlagView]:
        """One page of the tenant's flags, each with whether the kill switch holds it off now."""
        page = self._store.list_flags(tenant, limit=limit, cursor=cursor)
        killed = self._store.kill_switch_state(tenant)
        return Page[FlagView](items=[_view(f, killed) for f in page.items], next_cursor=page.next_cursor)

    def get_flag(self, tenant: str, key: str) -> Flag:
        flag = self._store.get_flag(tenant, key)
        if flag is None:
            raise e.DomainError(e.RES_FLAG_NOT_FOUND, f"The tenant has no flag {key!r}.")
        return flag

    def flag_view(self, tenant: str, key: str) -> FlagView:
        """The flag, whether the kill switch holds it off now, and the newest kill or revival that concerned it."""
        flag = self.get_flag(tenant, key)
        changes = self._store.kill_switch_changes(tenant, key, limit=1)
        return _view(flag, self._store.kill_switch_state(tenant), changes[0] if changes else None)

    def create_flag(self, tenant: str, flag: Flag, actor: str) -> Flag:
        """Store a new flag as version 1 (RES_FLAG_EXISTS when the key is taken, archived flags included)."""
        self._validate(tenant, flag)
        event = action_event(tenant, actor, "flag.created", f"flag:{flag.key}", version=1)
        try:
            stored = self._store.create_flag(tenant, flag, actor, self._clock(), event=event)
        except FlagExistsError as exc:
            raise e.DomainError(
                e.RES_FLAG_EXISTS,
                f"The tenant already has a flag {flag.key!r}; change it with PUT and its ETag.",
                extensions={"current": exc.current},
            ) from None
        return stored

    def update_flag(self, tenant: str, key: str, flag: Flag, expected: int | None, actor: str) -> Flag:
        """Replace the flag with ``flag`` as a new version, if ``expected`` is still its version."""
        if flag.key != key:
            raise e.DomainError(e.VAL_FLAG_KEY_MISMATCH, f"The body describes flag {flag.key!r}, the path {key!r}.")
        expected = self._required(expected, flag)
        self._validate(tenant, flag)
        return self._replace(tenant, flag, expected, actor, "flag.updated")

    def archive_flag(self, tenant: str, key: str, expected: int | None, actor: str) -> Flag:
        """Archive the flag (it serves its off value, evaluate-all leaves it out): a new version."""
        current = self.get_flag(tenant, key)
        expected = self._required(expected, None)
        archived = current.model_copy(update={"archived": True})
        self._validate(tenant, archived)
        return self._replace(tenant, archived, expected, actor, "flag.archived")

    def history(self, tenant: str, key: str, *, limit: int, cursor: str | None) -> FlagHistoryPage:
        """The flag's versions, newest first, and the newest kill-switch changes that concerned it."""
        self.get_flag(tenant, key)
        page = self._store.history(tenant, key, limit=limit, cursor=cursor)
        changes = self._store.kill_switch_changes(tenant, key, limit=MAX_KILL_SWITCH_CHANGES)
        return FlagHistoryPage(items=page.items, next_cursor=page.next_cursor, kill_switch_changes=changes)

    def rollback(self, tenant: str, key: str, version: int, expected: int | None, actor: str) -> Flag:
        """Make the flag as it was at ``version`` again, as a new version (history keeps everything)."""
        self.get_flag(tenant, key)
        expected = self._required(expected, None)
        entry = self._store.get_history_version(tenant, key, version)
        if entry is None:
            raise e.DomainError(e.RES_FLAG_VERSION_NOT_FOUND, f"Flag {key!r} has no version {version}.")
        self._validate(tenant, entry.flag)
        return self._replace(tenant, entry.flag, expected, actor, "flag.rolled_back", restored_version=version)

    # --- segments ------------------------------------------------------------------------------------------

    def list_segments(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Segment]:
        return self._store.list_segments(tenant, limit=limit, cursor=cursor)

    def get_segment(self, tenant: str, key: str) -> Segment:
        segment = self._store.get_segment(tenant, key)
        if segment is None:
            raise e.DomainError(e.RES_SEGMENT_NOT_FOUND, f"The tenant has no segment {key!r}.")
        return segment

    def put_segment(self, tenant: str, key: str, segment: Segment, actor: str) -> Segment:
        """Create or replace a segment; flags that test it see the change within the kill-switch bound."""
        if segment.key != key:
            raise e.DomainError(
                e.VAL_SEGMENT_KEY_MISMATCH, f"The body describes segment {segment.key!r}, the path {key!r}."
            )
        event = action_event(tenant, actor, "flag.segment.saved", f"segment:{key}", users=len(segment.users))
        return self._store.put_segment(tenant, segment, actor, self._clock(), event=event)

    # --- the kill switch -----------------------------------------------------------------------------------

    def kill_switch(self, tenant: str) -> KillSwitchState:
        return self._store.kill_switch_state(tenant)

    def change_kill_switch(self, tenant: str, change: KillSwitchChange, actor: str) -> KillSwitchState:
        """Kill or revive a flag, a tag or the whole tenant. Killing a flag the tenant does not have is refused
        (a typo must not look like a kill)."""
        if change.flag is not None:
            self.get_flag(tenant, change.flag)
            concerned = [change.flag]
        else:
            flags = self._store.load(tenant).flags.values()
            concerned = [f.key for f in flags if change.all or change.tag in f.tags]
        action = "flag.kill_switch.killed" if change.killed else "flag.kill_switch.revived"
        event = action_event(tenant, actor, action, change.target, reason=change.reason, flags=len(concerned))
        state = self._store.change_kill_switch(tenant, change, actor, self._clock(), concerned=concerned, event=event)
        logger.warning(
            "kill switch changed", extra={"tenant": tenant, "target": change.target, "killed": change.killed}
        )
        return state

    # --- settings ------------------------------------------------------------------------------------------

    def settings(self, tenant: str) -> FlagSettings:
        return self._store.get_settings(tenant)

    def put_settings(self, tenant: str, settings: FlagSettings, expected: int | None, actor: str) -> FlagSettings:
        event = action_event(
            tenant,
            actor,
            "flag.settings.updated",
            "flag-settings",
            client_attributes=",".join(settings.client_attributes),
            exposure_sample_rate=settings.exposure_sample_rate,
        )
        return self._store.put_settings(tenant, settings, expected, actor, self._clock(), event=event)

    # --- evaluation ----------------------------------------------------------------------------------------

    def evaluate(
        self, tenant: str, user: str, token_attributes: Mapping[str, str], request: EvaluationRequest
    ) -> EvaluationAnswer:
        """Evaluate the named flags (default: all that are not archived) for the caller. The context is the token's
        tenant, user and attributes, plus the client-supplied attributes the tenant allows; the token's win."""
        settings = self._cache.settings(tenant)
        refused = sorted(set(request.attributes) - set(settings.client_attributes))
        if refused:
            raise e.DomainError(
                e.VAL_ATTRIBUTE_NOT_ALLOWED,
                f"The tenant does not let clients supply {', '.join(refused)}; "
                "allow them in PUT /v1/admin/flag-settings, or have the token carry them.",
                extensions={"attributes": refused},
            )
        now = self._clock()
        # The token was verified and the request body validated: the context is built without validating again.
        context = EvaluationContext.of_caller(tenant, user, {**request.attributes, **token_attributes}, now)
        freshness = self._cache.freshness(tenant)
        results = self._cache.evaluate_all(tenant, context, request.flags)
        self._expose(tenant, results.values(), settings.exposure_sample_rate, now)
        return EvaluationAnswer(flags=results, flag_set_version=self._cache.version(tenant), freshness=freshness)

    def gate_for(self, tenant: str, user: str, attributes: Mapping[str, str]) -> logic.FlagGate:
        """Onboarding's gate for one user: flags evaluated with the token's attributes, each at most once."""
        context = EvaluationContext.of_caller(tenant, user, dict(attributes), self._clock())
        return self._cache.gate(tenant, context)

    def _expose(self, tenant: str, results: Any, rate: float, now: datetime) -> None:
        """Send one sampled exposure event for this evaluation (all its flags), at the tenant's rate. Exposures are
        analytics: a queue that refuses them does not fail the evaluation; the loss is logged and counted."""
        if self._exposures is None or rate <= 0 or self._sample() >= rate:
            return
        served = [
            {"flag": result.flag_key, "variant": result.variant, "reason": result.reason.value}
            for result in results
            if result.variant is not None
        ]
        if not served:
            return
        message = {
            "id": uuid.uuid4().hex,
            "tenant": tenant,
            "day": now.date().isoformat(),
            "rate": rate,
            "exposures": served,
        }
        try:
            self._exposures.send([message])
        except Exception as exc:  # the answer matters more than one sample
            logger.warning("exposure event not sent", extra={"tenant": tenant, "error": type(exc).__name__})
            metrics.add_metric(name=EXPOSURES_DROPPED_METRIC, unit="Count", value=len(served))

    # --- exposures -----------------------------------------------------------------------------------------

    def record_exposures(self, message: Mapping[str, Any], delivery_id: str) -> int:
        """Count one exposure event (the worker), once however often it is delivered: per flag, day and variant, the
        events and the evaluations they stand for (1 / the sample rate each). The event's own ``id`` names it, else
        the queue's ``delivery_id``. Returns how many exposures it counted now (0 for an event counted before)."""
        tenant, day, rate = str(message["tenant"]), date.fromisoformat(str(message["day"])), float(message["rate"])
        if not 0 < rate <= 1:
            raise ValueError(f"an exposure event's rate must be in (0, 1], not {rate}")
        event_id = str(message.get("id") or delivery_id)
        if not event_id.isascii() or not 0 < len(event_id) <= 128 or "#" in event_id:
            raise ValueError("an exposure event's id must be 1-128 ASCII characters without '#'")
        events: Counter[tuple[str, str, str]] = Counter(
            (str(x["flag"]), day.isoformat(), str(x["variant"])) for x in message["exposures"]
        )
        counted = self._store.add_exposures(
            tenant, event_id, {key: (n, n / rate) for key, n in events.items()}, self._clock()
        )
        return sum(events.values()) if counted else 0

    def exposures(self, tenant: str, key: str, days: int) -> ExposureReport:
        """The flag's sampled exposures per day and variant over the last ``days`` days (UTC)."""
        self.get_flag(tenant, key)
        since = self._clock().date() - timedelta(days=max(1, min(days, MAX_EXPOSURE_DAYS)) - 1)
        return ExposureReport(flag_key=key, counts=self._store.exposure_counts(tenant, key, since))

    # --- progressive rollouts ------------------------------------------------------------------------------

    def get_plan(self, tenant: str, key: str) -> r.RolloutPlan:
        plan = self._store.get_plan(tenant, key)
        if plan is None:
            raise e.DomainError(e.RES_ROLLOUT_NOT_FOUND, f"Flag {key!r} has no rollout plan.")
        return plan

    def start_plan(self, tenant: str, key: str, request: r.RolloutPlanRequest, actor: str) -> r.RolloutPlan:
        """Start a plan: the rule moves to the first step's percentage now, in the same transaction that stores
        the plan; the scheduled job takes it from there."""
        flag = self.get_flag(tenant, key)
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
            users = self._guard_users(tenant, plan.guard.flow_id, since, plan.guard.max_users)
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

    # --- erasure -------------------------------------------------------------------------------------------

    def forget_user(self, tenant: str, user: str) -> list[str]:
        """Remove a user's id from every segment's user list, every condition on ``user_id``, and every stored
        version of every flag (erasure, decision 0066). A flag that names the user now gets a new version without
        them; its history is then rewritten so that no version, and no diff, holds the id. Audited as
        ``system:erasure`` without the id, each entry in the transaction of the first write it covers. Returns what
        changed, as ``flag:<key>`` / ``segment:<key>``.

        Cost: the whole set (row 37) plus one Query of each flag's history, so it belongs in the erasure worker,
        never in a request."""
        actor = "system:erasure"
        flag_set = self._store.load(tenant)
        changed: list[str] = []
        for segment in flag_set.segments.values():
            if user in segment.users:
                kept = segment.model_copy(update={"users": [u for u in segment.users if u != user]})
                target = f"segment:{segment.key}"
                event = action_event(tenant, actor, "flag.user_forgotten", target)
                self._store.put_segment(tenant, kept, actor, self._clock(), event=event)
                changed.append(target)
        for flag in flag_set.flags.values():
            target = f"flag:{flag.key}"
            event = action_event(tenant, actor, "flag.user_forgotten", target)
            cleaned = _without_user(flag, user)
            if cleaned is not None:
                self._store.replace_flag(tenant, cleaned, flag.version, actor, self._clock(), event=event)
            # The flag's entry went with its new version; without one, it goes with the first history rewrite.
            if (
                self._forget_in_history(tenant, flag.key, user, None if cleaned is not None else event)
                or cleaned is not None
            ):
                changed.append(target)
        return changed

    def _forget_in_history(self, tenant: str, key: str, user: str, event: AuditEvent | None) -> bool:
        """Rewrite the versions of ``key`` that name ``user``, and every diff that would still show them (each diff
        is taken again between the cleaned versions); ``event`` goes with the first rewrite. Whether anything was
        rewritten."""
        previous: Flag | None = None
        rewritten = False
        for entry in self._store.history_entries(tenant, key):
            cleaned = _without_user(entry.flag, user) or entry.flag
            diff = flag_diff(previous, cleaned)
            if cleaned != entry.flag or diff != entry.diff:
                rewrite = entry.model_copy(update={"flag": cleaned, "diff": diff})
                self._store.rewrite_history_entry(tenant, rewrite, event=None if rewritten else event)
                rewritten = True
            previous = cleaned
        return rewritten

    # --- plumbing ------------------------------------------------------------------------------------------

    def _validate(self, tenant: str, flag: Flag) -> None:
        """Refuse ``flag`` if the tenant's set with it could not be evaluated (reads the whole set)."""
        current = self._store.load(tenant)
        logic.validate_flag_set(
            FlagSet(
                tenant=tenant,
                version=current.version,
                flags={**current.flags, flag.key: flag},
                segments=current.segments,
            )
        )

    def _replace(self, tenant: str, flag: Flag, expected: int, actor: str, action: str, **details: object) -> Flag:
        """Store ``flag`` as the version after ``expected``, with its audit entry (``action``, the new version and
        ``details``) in the same transaction."""
        event = action_event(tenant, actor, action, f"flag:{flag.key}", version=expected + 1, **details)
        try:
            return self._store.replace_flag(tenant, flag, expected, actor, self._clock(), event=event)
        except e.NotFoundError:
            raise e.DomainError(e.RES_FLAG_NOT_FOUND, f"The tenant has no flag {flag.key!r}.") from None

    @staticmethod
    def _required(expected: int | None, body: Flag | None) -> int:
        """The version a change is made on: ``If-Match``, else the version the body states."""
        if expected is not None:
            return expected
        if body is not None and "version" in body.model_fields_set:
            return body.version
        raise e.DomainError(
            e.RES_PRECONDITION_REQUIRED,
            'Send If-Match with the flag\'s ETag (like "v3") so that a concurrent change is not overwritten.',
        )


def _view(flag: Flag, killed: KillSwitchState, last_change: KillSwitchEvent | None = None) -> FlagView:
    """``flag`` with the kill-switch targets in force that hold it off."""
    by = [f"flag:{flag.key}"] if flag.key in killed.flags else []
    by += [f"tag:{tag}" for tag in flag.tags if tag in killed.tags]
    by += ["all"] if killed.all else []
    state = FlagKillSwitch(killed=bool(by), killed_by=by, last_change=last_change)
    return FlagView.model_validate({**flag.model_dump(), "kill_switch": state})


def _without_user(flag: Flag, user: str) -> Flag | None:
    """``flag`` with ``user`` taken out of its conditions on ``user_id``; ``None`` when none names the user.

    An excluding condition (``neq``, ``not_in``) left without values goes: it excluded nobody else. A naming
    condition (``eq``, ``in``) left without values takes its rule with it: the rule served only the listed users,
    and dropping just the condition would serve everyone.
    """
    touched = False
    rules: list[Rule] = []
    for rule in flag.rules:
        conditions: list[Condition] = []
        keep_rule = True
        for condition in rule.conditions:
            if condition.attribute != USER_ID_ATTRIBUTE or condition.operator not in _NAMING | _EXCLUDING:
                conditions.append(condition)
                continue
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            kept = [v for v in values if v != user]
            if len(kept) == len(values):
                conditions.append(condition)
                continue
            touched = True
            if kept:
                value = kept if isinstance(condition.value, list) else kept[0]
                conditions.append(condition.model_copy(update={"value": value}))
            elif condition.operator in _NAMING:
                keep_rule = False
        if keep_rule:
            rules.append(rule.model_copy(update={"conditions": conditions}))
    if not touched:
        return None
    return Flag.model_validate({**flag.model_dump(), "rules": [rule.model_dump() for rule in rules]})
