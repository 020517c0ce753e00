"""In-memory funnel counters and drop-off alert rules."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from firstmile.analytics.alert_store import AlertRuleConflictError, AlertRuleExistsError
from firstmile.analytics.alerts import AlertRecord, AlertRule, AlertRuleHistoryEntry, AlertRuleView, AlertStatus
from firstmile.analytics.counting import CounterUpdate, funnel_partition, period_bounds
from firstmile.analytics.ports import MAX_WRITE_ITEMS, CounterItem
from firstmile.audit.models import AuditEvent
from firstmile.errors import NotFoundError
from firstmile.model import field_changes
from firstmile.platform.cursors import Page
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.faults import Faults
from tests.fakes.paging import page_of


class FakeFunnelCounterStore:
    """``FunnelCounters`` in memory: counter items by partition and sort key, and the markers of counted events,
    changed together under one lock as the table changes them in one transaction."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._items: dict[str, dict[str, dict[str, float]]] = {}
        self._markers: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def count(self, tenant: str, marker: str, updates: Sequence[CounterUpdate], now: datetime) -> bool:
        return self.count_together([(tenant, marker)], updates, now)

    def count_together(
        self, markers: Sequence[tuple[str, str]], updates: Sequence[CounterUpdate], now: datetime
    ) -> bool:
        self.faults.enter("count")
        if len(markers) + len(updates) > MAX_WRITE_ITEMS:
            raise ValueError(f"{len(markers) + len(updates)} items are more than one counting write holds")
        if len({(u.key.pk, u.key.sk) for u in updates}) < len(updates):
            raise ValueError("a transaction touches each item once")  # as DynamoDB refuses it
        with self._lock:
            if any(m in self._markers for m in markers) or self.faults.conflicts("count"):
                return False
            self._markers.update(markers)
            for update in updates:
                item = self._items.setdefault(update.key.pk, {}).setdefault(update.key.sk, {})
                for name, amount in update.amounts.items():
                    item[name] = round(item.get(name, 0) + amount, 3)
        return True

    def counted(self, markers: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        self.faults.enter("counted")
        with self._lock:
            return {m for m in markers if m in self._markers}

    def read(
        self, tenant: str, flow_id: str, flow_version: int, segment: str, period: str, first: str, last: str
    ) -> list[CounterItem]:
        self.faults.enter("read")
        pk = funnel_partition(tenant, flow_id, flow_version, segment)
        low, high = period_bounds(period, first, last)
        with self._lock:
            items = sorted(self._items.get(pk, {}).items())
        return [(sk, dict(item)) for sk, item in items if low <= sk <= high]


class FakeAlertRuleStore(AuditedFake):
    """``AlertRuleStorePort`` in memory: per tenant its rules (with their status), versions and alerts, and the
    deployment's checked rules; audited changes append to ``audit`` under its lock, with the change."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self._rules: dict[str, dict[str, AlertRuleView]] = {}
        self._history: dict[str, dict[str, list[AlertRuleHistoryEntry]]] = {}
        self._alerts: dict[str, dict[str, AlertRecord]] = {}

    def create_rule(self, tenant: str, rule: AlertRule, actor: str, at: datetime, *, event: AuditEvent) -> AlertRule:
        self.faults.enter("create_rule")
        with self._lock:
            taken = self._rules.get(tenant, {}).get(rule.rule_id)
            if taken is not None or self.faults.conflicts("create_rule"):
                raise AlertRuleExistsError(_rule_of(taken) if taken else None)
            created = rule.model_copy(update={"version": 1})
            self._store(tenant, created, None, AlertStatus(), actor, at)
            self.audit.record(event)
            return created

    def replace_rule(
        self, tenant: str, rule: AlertRule, expected_version: int, actor: str, at: datetime, *, event: AuditEvent
    ) -> AlertRule:
        self.faults.enter("replace_rule")
        with self._lock:
            previous = self._rules.get(tenant, {}).get(rule.rule_id)
            if previous is None:
                raise NotFoundError(f"alert rule {rule.rule_id}")
            if previous.version != expected_version or self.faults.conflicts("replace_rule"):
                raise AlertRuleConflictError(_rule_of(previous))
            replaced = rule.model_copy(update={"version": expected_version + 1})
            status = previous.status if replaced.checked else AlertStatus()
            self._store(tenant, replaced, _rule_of(previous), status, actor, at)
            self.audit.record(event)
            return replaced

    def get_rule(self, tenant: str, rule_id: str) -> AlertRuleView | None:
        self.faults.enter("get_rule")
        with self._lock:
            return self._rules.get(tenant, {}).get(rule_id)

    def list_rules(self, tenant: str, *, limit: int, cursor: str | None) -> Page[AlertRuleView]:
        self.faults.enter("list_rules")
        with self._lock:
            rules = sorted(self._rules.get(tenant, {}).values(), key=lambda r: r.rule_id)
        chosen, next_cursor = page_of(rules, lambda r: r.rule_id, scope=f"rules|{tenant}", limit=limit, cursor=cursor)
        return Page[AlertRuleView](items=chosen, next_cursor=next_cursor)

    def firing_rules(self, tenant: str) -> list[str]:
        self.faults.enter("firing_rules")
        with self._lock:
            return sorted(r.rule_id for r in self._rules.get(tenant, {}).values() if r.status.state == "firing")

    def history(self, tenant: str, rule_id: str, *, limit: int, cursor: str | None) -> Page[AlertRuleHistoryEntry]:
        self.faults.enter("history")
        with self._lock:
            entries = list(reversed(self._history.get(tenant, {}).get(rule_id, [])))
        chosen, next_cursor = page_of(
            entries,
            lambda entry: f"{entry.version:08d}",
            scope=f"history|{tenant}|{rule_id}",
            limit=limit,
            cursor=cursor,
            descending=True,
        )
        return Page[AlertRuleHistoryEntry](items=chosen, next_cursor=next_cursor)

    def checked_rules(self) -> list[tuple[str, str]]:
        self.faults.enter("checked_rules")
        with self._lock:
            return sorted(
                (tenant, rule.rule_id)
                for tenant, rules in self._rules.items()
                for rule in rules.values()
                if rule.checked
            )

    def record_check(
        self,
        tenant: str,
        rule: AlertRule,
        before: AlertStatus,
        after: AlertStatus,
        alert: AlertRecord | None = None,
        *,
        event: AuditEvent | None = None,
    ) -> bool:
        self.faults.enter("record_check")
        with self._lock:
            stored_rule = self._rules.get(tenant, {}).get(rule.rule_id)
            if stored_rule is None or stored_rule.version != rule.version or stored_rule.status.state != before.state:
                return False
            if self.faults.conflicts("record_check"):
                return False
            self._rules[tenant][rule.rule_id] = stored_rule.model_copy(update={"status": after})
            if alert is not None:
                self._alerts.setdefault(tenant, {})[alert.alert_id] = alert
            if event is not None:
                self.audit.record(event)
            return True

    def list_alerts(self, tenant: str, *, limit: int, cursor: str | None) -> Page[AlertRecord]:
        self.faults.enter("list_alerts")
        with self._lock:
            alerts = sorted(self._alerts.get(tenant, {}).values(), key=lambda a: a.alert_id, reverse=True)
        chosen, next_cursor = page_of(
            alerts, lambda a: a.alert_id, scope=f"alerts|{tenant}", limit=limit, cursor=cursor, descending=True
        )
        return Page[AlertRecord](items=chosen, next_cursor=next_cursor)

    def _store(
        self, tenant: str, rule: AlertRule, previous: AlertRule | None, status: AlertStatus, actor: str, at: datetime
    ) -> None:
        view = AlertRuleView.model_validate({**rule.model_dump(), "status": status})
        self._rules.setdefault(tenant, {})[rule.rule_id] = view
        entry = AlertRuleHistoryEntry(
            rule_id=rule.rule_id,
            version=rule.version,
            rule=rule,
            changed_by=actor,
            changed_at=at,
            diff=field_changes(previous, rule, skip=frozenset({"version"})),
        )
        self._history.setdefault(tenant, {}).setdefault(rule.rule_id, []).append(entry)


def _rule_of(view: AlertRuleView) -> AlertRule:
    return AlertRule.model_validate(view.model_dump(exclude={"status"}))
