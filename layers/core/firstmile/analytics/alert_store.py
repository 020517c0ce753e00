"""Where drop-off alert rules, their versions, their state and their alerts are kept (``AlertRuleStore``; decision
0074, docs/data-model.md).

Key formats. Everything of one tenant's alerting lives in one partition ``pk = TENANT#<t>#ALERTS``:
- a rule: ``sk = RULE#<rule id>`` (``kind = alert_rule``): ``rule_id``, ``version``, ``rule`` (the rule's JSON form),
  ``updated_at``, ``updated_by``, and what the hourly check last found: ``state`` (for conditions) and ``status``
  (the whole ``AlertStatus``). An admin's change sets the rule's attributes only, so it never undoes a check, and a
  check sets the state attributes only, on condition that the rule's version is the one it judged;
- a version of a rule: ``sk = HISTORY#<rule id>#<version:08d>`` (``kind = alert_rule_version``, immutable);
- an alert: ``sk = ALERT#<at>#<rule id>`` (``kind = analytics_alert``), expiring after ``ALERT_RETENTION_DAYS``.

The deployment's list of checked rules (enabled, not archived), which the hourly job reads with one Query:
``pk = ANALYTICS_ALERT_RULES#CHECKED``, ``sk = <tenant>#<rule id>`` (``kind = analytics_alert_rule_checked``),
written and deleted in the transaction of the rule's change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from firstmile.analytics.alerts import AlertRecord, AlertRule, AlertRuleHistoryEntry, AlertRuleView, AlertStatus
from firstmile.audit.models import AuditEvent
from firstmile.audit.store import AuditStore
from firstmile.errors import NotFoundError
from firstmile.model import field_changes
from firstmile.platform.cursors import Page
from firstmile.platform.gateway import CONDITION_FAILED, TableGateway, applied, partition
from firstmile.platform.items import plain, storable, stored_fields
from firstmile.platform.versioned import StoredConflictError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_RULE_PREFIX = "RULE#"
_HISTORY_PREFIX = "HISTORY#"
_ALERT_PREFIX = "ALERT#"
# The one partition that lists every checked rule of the deployment, for the hourly job.
CHECKED_RULES_PARTITION = "ANALYTICS_ALERT_RULES#CHECKED"
ALERT_RETENTION_DAYS = 400
# A rule's diff leaves out what every version changes.
_NOT_DIFFED = frozenset({"version"})


class AlertRuleConflictError(StoredConflictError[AlertRule]):
    """A rule write lost a race, named a stale version, or (``AlertRuleExistsError``) took a taken id; carries the
    stored rule."""

    @property
    def rule(self) -> AlertRule | None:
        return self.stored


class AlertRuleExistsError(AlertRuleConflictError):
    """The tenant already has a rule with this id (archived ones included)."""


def alerts_partition(tenant: str) -> str:
    """The partition of a tenant's rules, their versions and their alerts."""
    return f"TENANT#{tenant}#ALERTS"


def _rule_key(tenant: str, rule_id: str) -> dict[str, str]:
    return {"pk": alerts_partition(tenant), "sk": f"{_RULE_PREFIX}{rule_id}"}


def _history_prefix(rule_id: str) -> str:
    return f"{_HISTORY_PREFIX}{rule_id}#"


def _checked_key(tenant: str, rule_id: str) -> dict[str, str]:
    return {"pk": CHECKED_RULES_PARTITION, "sk": f"{tenant}#{rule_id}"}


def _rule_of(item: dict[str, Any]) -> AlertRule:
    return AlertRule.model_validate(plain(item["rule"]))


def _view_of(item: dict[str, Any]) -> AlertRuleView:
    status = AlertStatus.model_validate(plain(item.get("status") or {}))
    return AlertRuleView.model_validate({**plain(item["rule"]), "status": status})


class AlertRuleStore:
    """All reads and writes of alert rules and alerts. Changes append their audit entry in the same transaction
    (``AuditStore.transact``); errors from AWS become ``DependencyUnavailableError``."""

    def __init__(self, table: Table | TableGateway, *, audit: AuditStore | None = None) -> None:
        self._table = TableGateway.of(table)
        self._audit = audit or AuditStore(self._table)

    # --- rules ---------------------------------------------------------------------------------------------

    def create_rule(self, tenant: str, rule: AlertRule, actor: str, at: datetime, *, event: AuditEvent) -> AlertRule:
        """Store a new rule as version 1 with its first version entry, list it for the job when it is checked, and
        append ``event``: one TransactWriteItems. ``AlertRuleExistsError`` with the stored rule when the id is
        taken."""
        stored = rule.model_copy(update={"version": 1})
        item = {
            **_rule_key(tenant, rule.rule_id),
            "kind": "alert_rule",
            **self._rule_attributes(stored, actor, at),
            "state": "unknown",
            "status": stored_fields(AlertStatus()),
        }
        put = self._table.put_action(item, condition="attribute_not_exists(pk)", return_stored=True)
        reasons = self._write(tenant, put, None, stored, actor, at, event)
        if reasons is None:
            return stored
        raise AlertRuleExistsError(self._returned(reasons) or self._stored_rule(tenant, rule.rule_id))

    def replace_rule(
        self, tenant: str, rule: AlertRule, expected_version: int, actor: str, at: datetime, *, event: AuditEvent
    ) -> AlertRule:
        """Store ``rule`` as version ``expected_version + 1`` with a version entry holding its diff, list or unlist
        it for the job, and append ``event``. A rule no longer checked has its state set back to ``unknown``.
        ``AlertRuleConflictError`` with the stored rule when its version is not ``expected_version``;
        ``NotFoundError`` when there is no such rule. One consistent GetItem and one TransactWriteItems."""
        previous = self._stored_rule(tenant, rule.rule_id)
        if previous is None:
            raise NotFoundError(f"alert rule {rule.rule_id}")
        if previous.version != expected_version:
            raise AlertRuleConflictError(previous)
        stored = rule.model_copy(update={"version": expected_version + 1})
        attributes = self._rule_attributes(stored, actor, at)
        if not stored.checked:
            attributes |= {"state": "unknown", "status": stored_fields(AlertStatus())}
        names = {f"#{name}": name for name in attributes}
        values = {f":{name}": value for name, value in attributes.items()}
        update = self._table.update_action(
            _rule_key(tenant, rule.rule_id),
            "SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
            condition="#version = :expected",
            names=names,
            values={**values, ":expected": expected_version},
            return_stored=True,
        )
        reasons = self._write(tenant, update, previous, stored, actor, at, event)
        if reasons is None:
            return stored
        raise AlertRuleConflictError(self._returned(reasons) or self._stored_rule(tenant, rule.rule_id))

    def get_rule(self, tenant: str, rule_id: str) -> AlertRuleView | None:
        """The rule with its status: one consistent GetItem."""
        item = self._table.get(_rule_key(tenant, rule_id))
        return _view_of(item) if item else None

    def list_rules(self, tenant: str, *, limit: int, cursor: str | None) -> Page[AlertRuleView]:
        """Query ``begins_with(sk, RULE#)`` (consistent), in id order, archived rules included, cursor-paged."""
        items, next_cursor = self._page(tenant, _RULE_PREFIX, limit=limit, cursor=cursor)
        return Page[AlertRuleView](items=[_view_of(item) for item in items], next_cursor=next_cursor)

    def firing_rules(self, tenant: str) -> list[str]:
        """The ids of the tenant's rules firing now: one Query of the rules, only their ids and states read."""
        items = self._table.query_all(
            partition(alerts_partition(tenant)).begins_with(_RULE_PREFIX),
            consistent=True,
            projection="#id, #state",
            names={"#id": "rule_id", "#state": "state"},
        )
        return [str(item["rule_id"]) for item in items if item.get("state") == "firing"]

    def history(self, tenant: str, rule_id: str, *, limit: int, cursor: str | None) -> Page[AlertRuleHistoryEntry]:
        """Query ``begins_with(sk, HISTORY#<id>#)``, newest version first, cursor-paged."""
        items, next_cursor = self._page(tenant, _history_prefix(rule_id), limit=limit, cursor=cursor, newest_first=True)
        entries = [
            AlertRuleHistoryEntry.model_validate(
                {name: plain(item[name]) for name in ("rule_id", "version", "rule", "changed_by", "changed_at", "diff")}
            )
            for item in items
        ]
        return Page[AlertRuleHistoryEntry](items=entries, next_cursor=next_cursor)

    def checked_rules(self) -> list[tuple[str, str]]:
        """(tenant, rule id) of every checked rule of the deployment: one Query of the list's partition, paged."""
        listed = self._table.query_all(partition(CHECKED_RULES_PARTITION), consistent=True)
        return [(tenant, rule_id) for tenant, _, rule_id in (str(item["sk"]).rpartition("#") for item in listed)]

    # --- checks and alerts ---------------------------------------------------------------------------------

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
        """Store ``after`` as the rule's status, on condition that the rule is still at the version judged and its
        state is still ``before``'s; with ``alert`` (and ``event``'s entry) in the same transaction. ``False`` when
        the condition failed (the rule changed, or another check came first): nothing was written."""
        status = self._table.update_action(
            _rule_key(tenant, rule.rule_id),
            "SET #state = :state, #status = :status",
            condition="#version = :version AND #state = :before",
            names={"#state": "state", "#status": "status", "#version": "version"},
            values={
                ":state": after.state,
                ":status": stored_fields(after),
                ":version": rule.version,
                ":before": before.state,
            },
        )
        writes = [status]
        if alert is not None:
            expires = int((alert.at + timedelta(days=ALERT_RETENTION_DAYS)).timestamp())
            item = {
                "pk": alerts_partition(tenant),
                "sk": f"{_ALERT_PREFIX}{alert.alert_id}",
                "kind": "analytics_alert",
                "alert": stored_fields(alert),
                "expires_at": expires,
            }
            writes.append(self._table.put_new_action(item))
        reasons = self._table.transact(writes) if event is None else self._audit.transact(writes, event)
        return applied(reasons, f"the alert rule {rule.rule_id}")

    def list_alerts(self, tenant: str, *, limit: int, cursor: str | None) -> Page[AlertRecord]:
        """Query ``begins_with(sk, ALERT#)`` (consistent), newest first, cursor-paged."""
        items, next_cursor = self._page(tenant, _ALERT_PREFIX, limit=limit, cursor=cursor, newest_first=True)
        alerts = [AlertRecord.model_validate(plain(item["alert"])) for item in items]
        return Page[AlertRecord](items=alerts, next_cursor=next_cursor)

    # --- plumbing ------------------------------------------------------------------------------------------

    @staticmethod
    def _rule_attributes(rule: AlertRule, actor: str, at: datetime) -> dict[str, Any]:
        return {
            "rule_id": rule.rule_id,
            "version": rule.version,
            "rule": stored_fields(rule),
            "updated_at": at.isoformat(),
            "updated_by": actor,
        }

    def _write(
        self,
        tenant: str,
        change: dict[str, Any],
        previous: AlertRule | None,
        rule: AlertRule,
        actor: str,
        at: datetime,
        event: AuditEvent,
    ) -> list[dict[str, Any]] | None:
        """``change`` of the rule item, the version entry (if absent), the job's list entry put or deleted, and
        ``event``'s entry, in one transaction; ``None`` when it applied, else the cancellation reasons."""
        entry = {
            "pk": alerts_partition(tenant),
            "sk": f"{_history_prefix(rule.rule_id)}{rule.version:08d}",
            "kind": "alert_rule_version",
            "rule_id": rule.rule_id,
            "version": rule.version,
            "rule": stored_fields(rule),
            "changed_by": actor,
            "changed_at": at.isoformat(),
            "diff": storable([c.model_dump(mode="json") for c in field_changes(previous, rule, skip=_NOT_DIFFED)]),
        }
        listed_key = _checked_key(tenant, rule.rule_id)
        listed = (
            self._table.put_action({**listed_key, "kind": "analytics_alert_rule_checked"})
            if rule.checked
            else self._table.delete_action(listed_key)
        )
        reasons = self._audit.transact([change, self._table.put_new_action(entry), listed], event)
        applied(reasons, f"the alert rules of tenant {tenant}")
        return reasons

    def _stored_rule(self, tenant: str, rule_id: str) -> AlertRule | None:
        item = self._table.get(_rule_key(tenant, rule_id))
        return _rule_of(item) if item else None

    @staticmethod
    def _returned(reasons: list[dict[str, Any]]) -> AlertRule | None:
        """The stored rule a failed condition of the rule item (the transaction's first) handed back."""
        returned = reasons[0].get("Item") if reasons[0].get("Code") == CONDITION_FAILED else None
        return _rule_of(returned) if returned else None

    def _page(
        self, tenant: str, prefix: str, *, limit: int, cursor: str | None, newest_first: bool = False
    ) -> tuple[list[dict[str, Any]], str | None]:
        alerts = alerts_partition(tenant)
        return self._table.query_page(
            partition(alerts).begins_with(prefix),
            limit=limit,
            cursor=cursor,
            scope=f"{alerts}|{prefix}",
            consistent=True,
            newest_first=newest_first,
        )
