"""What the funnel aggregator and the analytics views need of storage, as a protocol: ``FunnelCounterStore`` (the
table) implements it, and so does the unit tests' in-memory fake; both pass the same contract suite
(tests/contracts/analytics.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from firstmile.analytics.counting import CounterUpdate

if TYPE_CHECKING:
    from firstmile.analytics.alerts import AlertRecord, AlertRule, AlertRuleHistoryEntry, AlertRuleView, AlertStatus
    from firstmile.audit.models import AuditEvent
    from firstmile.platform.cursors import Page

# The most items one counting write holds: DynamoDB's limit of actions in one TransactWriteItems.
MAX_WRITE_ITEMS = 100

# A counter item as a read hands it back: its sort key (period and target) and its counts.
CounterItem = tuple[str, dict[str, float]]


class FunnelCounters(Protocol):
    """The funnel counters of every tenant's flows, kept exactly once per event."""

    def count(self, tenant: str, marker: str, updates: Sequence[CounterUpdate], now: datetime) -> bool:
        """Add one event's ``updates`` together with its ``marker``, all or nothing: ``False`` (and nothing added)
        when the marker is there already, the event having been counted before."""
        ...

    def count_together(
        self, markers: Sequence[tuple[str, str]], updates: Sequence[CounterUpdate], now: datetime
    ) -> bool:
        """Add several events' ``updates`` (at most one per counter item) with their ``markers`` (tenant, marker),
        all or nothing, in one write of at most ``MAX_WRITE_ITEMS`` items: ``False`` (and nothing added) when any
        marker is there already."""
        ...

    def counted(self, markers: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``markers`` (tenant, marker) are there: the events counted before."""
        ...

    def read(
        self, tenant: str, flow_id: str, flow_version: int, segment: str, period: str, first: str, last: str
    ) -> list[CounterItem]:
        """The counter items of one flow version and segment whose ``period`` (``DAY`` or ``HOUR``) runs from
        ``first`` to ``last`` (both included, as the key writes them: ``2026-12-01``, ``2026-12-01T09``), in key
        order."""
        ...


class AlertRuleStorePort(Protocol):
    """The tenants' drop-off alert rules, their versions, their last check and their alerts
    (``firstmile.analytics.alert_store.AlertRuleStore``). Changes append their audit entry with them."""

    def create_rule(self, tenant: str, rule: AlertRule, actor: str, at: datetime, *, event: AuditEvent) -> AlertRule:
        """Store ``rule`` as version 1; ``AlertRuleExistsError`` with the stored rule when the id is taken."""
        ...

    def replace_rule(
        self, tenant: str, rule: AlertRule, expected_version: int, actor: str, at: datetime, *, event: AuditEvent
    ) -> AlertRule:
        """Store ``rule`` as the version after ``expected_version``; ``AlertRuleConflictError`` with the stored rule
        when that is not its version; ``NotFoundError`` when there is no such rule."""
        ...

    def get_rule(self, tenant: str, rule_id: str) -> AlertRuleView | None:
        """The rule with its last check's status."""
        ...

    def list_rules(self, tenant: str, *, limit: int, cursor: str | None) -> Page[AlertRuleView]:
        """The tenant's rules in id order, archived ones included, cursor-paged."""
        ...

    def firing_rules(self, tenant: str) -> list[str]:
        """The ids of the tenant's rules firing now, in id order."""
        ...

    def history(self, tenant: str, rule_id: str, *, limit: int, cursor: str | None) -> Page[AlertRuleHistoryEntry]:
        """The rule's versions, newest first, cursor-paged."""
        ...

    def checked_rules(self) -> list[tuple[str, str]]:
        """(tenant, rule id) of every enabled, unarchived rule of the deployment."""
        ...

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
        """Store ``after`` (with ``alert`` and ``event``'s entry) if the rule is still at ``rule.version`` and in
        ``before.state``; ``False``, writing nothing, when it is not."""
        ...

    def list_alerts(self, tenant: str, *, limit: int, cursor: str | None) -> Page[AlertRecord]:
        """The tenant's alerts, newest first, cursor-paged."""
        ...
