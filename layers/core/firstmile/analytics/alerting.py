"""Drop-off alerts: the rules a tenant's admins manage, versioned as flags are, and the hourly check that judges
every enabled rule against the funnel counters (decision 0074).

A change of a rule needs the version it was made on (``If-Match``, or the body's ``version``), makes the next
version with its diff, and leaves an audit entry in the same transaction. The check reads a rule's two windows
through ``AnalyticsReports`` (counter items only), judges them (``alerts.judge``) and stores what it found; a rule
that starts or stops firing also writes an alert record and an audit entry in that transaction, and a start emits
``DROP_OFF_ALERT_METRIC``, which the deployment alarms on.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from firstmile import errors as e
from firstmile.analytics.alert_store import AlertRuleExistsError
from firstmile.analytics.alerts import (
    AlertRecord,
    AlertRule,
    AlertRuleHistoryEntry,
    AlertRulePage,
    AlertRuleView,
    AlertsPage,
    AlertStatus,
    Verdict,
    judge,
    next_state,
    record_state,
    windows_of,
)
from firstmile.analytics.funnel import FunnelView
from firstmile.analytics.ports import AlertRuleStorePort
from firstmile.analytics.reports import FlowVersions, ReportQuery
from firstmile.analytics.signals import DROP_OFF_ALERT_METRIC
from firstmile.audit.events import action_event
from firstmile.clock import Clock, utc_now
from firstmile.observability import logger, metrics
from firstmile.platform.cursors import Page
from firstmile.platform.versioned import change_version

# Who the hourly check's audit entries name.
CHECK_ACTOR = "system:analytics-alerts"


class FunnelViews(Protocol):
    """A flow's funnel over a period (``AnalyticsReports.view``)."""

    def view(self, tenant: str, query: ReportQuery) -> FunnelView: ...


class AlertRules:
    """The use cases of drop-off alerts: the admins' rules and alerts, and the hourly check."""

    def __init__(
        self, store: AlertRuleStorePort, versions: FlowVersions, funnels: FunnelViews, *, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._versions = versions
        self._funnels = funnels
        self._clock = clock

    # --- the admins' rules ---------------------------------------------------------------------------------

    def list_rules(self, tenant: str, *, limit: int, cursor: str | None) -> AlertRulePage:
        """One page of the tenant's rules with their status, and how many of all its rules fire now."""
        page = self._store.list_rules(tenant, limit=limit, cursor=cursor)
        if cursor is None and page.next_cursor is None:  # the page is every rule: count them there
            firing = sum(1 for rule in page.items if rule.status.state == "firing")
        else:
            firing = len(self._store.firing_rules(tenant))
        return AlertRulePage(items=page.items, next_cursor=page.next_cursor, firing=firing)

    def get_rule(self, tenant: str, rule_id: str) -> AlertRuleView:
        """The rule with its status; RES_ALERT_RULE_NOT_FOUND when the tenant has none by that id."""
        rule = self._store.get_rule(tenant, rule_id)
        if rule is None:
            raise e.DomainError(e.RES_ALERT_RULE_NOT_FOUND, f"The tenant has no alert rule {rule_id!r}.")
        return rule

    def create_rule(self, tenant: str, rule: AlertRule, actor: str) -> AlertRule:
        """Store a new rule as version 1 (RES_ALERT_RULE_EXISTS when the id is taken, archived rules included)."""
        self._validate(tenant, rule)
        event = action_event(tenant, actor, "analytics.alert_rule.created", f"alert_rule:{rule.rule_id}", version=1)
        try:
            return self._store.create_rule(tenant, rule, actor, self._clock(), event=event)
        except AlertRuleExistsError as exc:
            raise e.DomainError(
                e.RES_ALERT_RULE_EXISTS,
                f"The tenant already has an alert rule {rule.rule_id!r}; change it with PUT and its ETag.",
                extensions={"current": exc.current},
            ) from None

    def update_rule(self, tenant: str, rule_id: str, rule: AlertRule, expected: int | None, actor: str) -> AlertRule:
        """Replace the rule with ``rule`` as a new version, if ``expected`` is still its version."""
        if rule.rule_id != rule_id:
            raise e.DomainError(
                e.VAL_ALERT_RULE_ID_MISMATCH, f"The body describes rule {rule.rule_id!r}, the path {rule_id!r}."
            )
        expected = change_version(expected, rule, "rule")
        self._validate(tenant, rule)
        return self._replace(tenant, rule, expected, actor, "analytics.alert_rule.updated")

    def archive_rule(self, tenant: str, rule_id: str, expected: int | None, actor: str) -> AlertRule:
        """Archive the rule (never checked again; its versions and alerts are kept) as a new version."""
        current = self.get_rule(tenant, rule_id)
        archived = AlertRule.model_validate({**current.model_dump(exclude={"status"}), "archived": True})
        return self._replace(
            tenant, archived, change_version(expected, None, "rule"), actor, "analytics.alert_rule.archived"
        )

    def history(self, tenant: str, rule_id: str, *, limit: int, cursor: str | None) -> Page[AlertRuleHistoryEntry]:
        """The rule's versions, newest first, each with its diff."""
        self.get_rule(tenant, rule_id)
        return self._store.history(tenant, rule_id, limit=limit, cursor=cursor)

    def alerts(self, tenant: str, *, limit: int, cursor: str | None) -> AlertsPage:
        """One page of the tenant's alerts, newest first, and the ids of the rules firing now."""
        page = self._store.list_alerts(tenant, limit=limit, cursor=cursor)
        return AlertsPage(items=page.items, next_cursor=page.next_cursor, firing_rules=self._store.firing_rules(tenant))

    # --- the hourly check ----------------------------------------------------------------------------------

    def check_rules(self) -> dict[str, int]:
        """The scheduled job: judge every checked rule of the deployment once. A rule whose check fails is logged
        and the others still run; the job then fails, so the schedule retries it (a check's write is conditional:
        a repeated one changes nothing) and its dead-letter queue keeps it if retries run out."""
        outcomes: Counter[str] = Counter()
        for tenant, rule_id in self._store.checked_rules():
            try:
                outcomes[self.check_rule(tenant, rule_id)] += 1
            except Exception:
                logger.exception("alert rule check failed", extra={"tenant": tenant, "rule": rule_id})
                outcomes["failed"] += 1
        if outcomes["failed"]:
            raise RuntimeError(f"{outcomes['failed']} alert rule checks failed")
        return dict(outcomes)

    def check_rule(self, tenant: str, rule_id: str) -> str:
        """Judge one rule and store what was found: ``firing`` or ``resolved`` when it started or stopped firing
        (an alert record and an audit entry written), else its state (``ok``, ``firing``, ``unknown``);
        ``skipped`` when it is gone, off or archived, ``stale`` when it changed while being judged."""
        rule = self._store.get_rule(tenant, rule_id)
        if rule is None or not rule.checked:
            return "skipped"
        now = self._clock()
        windows = windows_of(rule, now.date())
        try:
            current = self._funnels.view(tenant, ReportQuery(rule.flow_id, windows.current.start, windows.current.end))
            previous = self._funnels.view(
                tenant, ReportQuery(rule.flow_id, windows.previous.start, windows.previous.end)
            )
            verdict = judge(rule, current, previous)
        except e.DomainError as exc:  # the flow was deleted or never published: nothing to judge
            verdict = Verdict(None, None, None, 0, exc.detail)
        before = rule.status
        state = next_state(before.state, verdict)
        after = AlertStatus(
            state=state,
            since=before.since if state == before.state and before.since else now,
            checked_at=now,
            value=verdict.value,
            baseline=verdict.baseline,
            sessions=verdict.sessions,
            message=verdict.message,
        )
        change = record_state(before.state, state)
        if change is None:
            written = self._store.record_check(tenant, rule, before, after)
            return state if written else "stale"
        alert = AlertRecord(
            alert_id=f"{now:%Y%m%dT%H%M%S}Z-{rule.rule_id}-{change}",
            rule_id=rule.rule_id,
            rule_version=rule.version,
            flow_id=rule.flow_id,
            step_id=rule.step_id,
            kind=rule.kind,
            threshold=rule.threshold,
            state=change,
            at=now,
            value=verdict.value,
            baseline=verdict.baseline,
            sessions=verdict.sessions,
            message=verdict.message,
            window=windows.current,
            previous_window=windows.previous,
        )
        event = action_event(
            tenant, CHECK_ACTOR, f"analytics.alert.{change}", f"alert_rule:{rule.rule_id}", message=verdict.message
        )
        if not self._store.record_check(tenant, rule, before, after, alert, event=event):
            return "stale"
        if change == "firing":
            metrics.add_metric(name=DROP_OFF_ALERT_METRIC, unit="Count", value=1)
            logger.warning(
                "drop-off alert firing",
                extra={"tenant": tenant, "rule": rule.rule_id, "flow": rule.flow_id, "reason": verdict.message},
            )
        return change

    # --- plumbing ------------------------------------------------------------------------------------------

    def _validate(self, tenant: str, rule: AlertRule) -> None:
        """Refuse a rule on a flow without a published version, or watching a step its newest version lacks."""
        steps = [step.id for step in self._versions.latest(tenant, rule.flow_id).definition.steps]
        if rule.step_id is not None and rule.step_id not in steps:
            raise e.DomainError(
                e.VAL_ALERT_RULE_STEP_UNKNOWN,
                f"The newest version of flow {rule.flow_id!r} has no step {rule.step_id!r}.",
                fields=[e.FieldIssue("body.step_id", f"one of {', '.join(steps)}", "unknown_step")],
            )

    def _replace(self, tenant: str, rule: AlertRule, expected: int, actor: str, action: str) -> AlertRule:
        """Store ``rule`` as the version after ``expected``, with its audit entry in the same transaction."""
        event = action_event(tenant, actor, action, f"alert_rule:{rule.rule_id}", version=expected + 1)
        try:
            return self._store.replace_rule(tenant, rule, expected, actor, self._clock(), event=event)
        except e.NotFoundError:
            raise e.DomainError(e.RES_ALERT_RULE_NOT_FOUND, f"The tenant has no alert rule {rule.rule_id!r}.") from None
