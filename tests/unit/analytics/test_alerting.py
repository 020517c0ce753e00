"""Drop-off alerts over the in-memory stores: admins manage versioned rules, and the hourly check judges them
against counters of users who walked the flow, writing an alert and an audit entry when a rule starts or stops
firing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from firstmile import errors
from firstmile.analytics.alerting import CHECK_ACTOR, AlertRules
from firstmile.analytics.alerts import AlertRule
from firstmile.analytics.reports import AnalyticsReports
from firstmile.onboarding.models import EventType
from tests.fakes.analytics import FakeAlertRuleStore, FakeFunnelCounterStore
from tests.fakes.audit import FakeAuditLog
from tests.unit.analytics.walks import DONE, TENANT, Clock, Versions, Walker, day

ADMIN = "admin:u-1"
PROFILE_ONLY = [("profile", EventType.STEP_COMPLETED, None)]


@pytest.fixture
def walker() -> Walker:
    return Walker(FakeFunnelCounterStore())


@pytest.fixture
def audit() -> FakeAuditLog:
    return FakeAuditLog()


@pytest.fixture
def store(audit: FakeAuditLog) -> FakeAlertRuleStore:
    return FakeAlertRuleStore(audit=audit)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alerts(store: FakeAlertRuleStore, walker: Walker, clock: Clock) -> AlertRules:
    return AlertRules(store, Versions(), AnalyticsReports(walker.store, Versions(), clock=clock), clock=clock)


def rule(**fields: Any) -> AlertRule:
    defaults = {"rule_id": "profile-low", "flow_id": "welcome", "kind": "conversion_below", "step_id": "profile"}
    return AlertRule.model_validate({**defaults, "threshold": 60, "min_sessions": 5, **fields})


def actions(audit: FakeAuditLog) -> list[str]:
    return [entry.action for entry in reversed(audit.list_entries(TENANT).items)]


def test_a_rule_must_watch_a_step_of_a_published_flow(alerts: AlertRules) -> None:
    with pytest.raises(errors.DomainError) as unknown_step:
        alerts.create_rule(TENANT, rule(step_id="billing"), ADMIN)
    assert unknown_step.value.code == errors.VAL_ALERT_RULE_STEP_UNKNOWN
    with pytest.raises(errors.DomainError) as unknown_flow:
        alerts.create_rule(TENANT, rule(flow_id="other"), ADMIN)
    assert unknown_flow.value.code == errors.RES_FLOW_NOT_FOUND


def test_rules_are_versioned_like_flags(alerts: AlertRules, audit: FakeAuditLog) -> None:
    alerts.create_rule(TENANT, rule(), ADMIN)
    with pytest.raises(errors.DomainError) as taken:
        alerts.create_rule(TENANT, rule(), ADMIN)
    assert taken.value.code == errors.RES_ALERT_RULE_EXISTS

    # A change needs the version it was made on, and the path's id
    with pytest.raises(errors.DomainError) as unversioned:
        alerts.update_rule(TENANT, "profile-low", rule(threshold=50), None, ADMIN)
    assert unversioned.value.code == errors.RES_PRECONDITION_REQUIRED
    with pytest.raises(errors.DomainError) as mismatch:
        alerts.update_rule(TENANT, "other", rule(), 1, ADMIN)
    assert mismatch.value.code == errors.VAL_ALERT_RULE_ID_MISMATCH
    with pytest.raises(errors.VersionConflictError):
        alerts.update_rule(TENANT, "profile-low", rule(threshold=50), 3, ADMIN)

    changed = alerts.update_rule(TENANT, "profile-low", rule(threshold=50), 1, ADMIN)
    archived = alerts.archive_rule(TENANT, "profile-low", 2, ADMIN)

    assert (changed.version, archived.version, archived.archived) == (2, 3, True)
    history = alerts.history(TENANT, "profile-low", limit=10, cursor=None)
    assert [[c.field for c in e.diff] for e in history.items[:2]] == [["archived"], ["threshold"]]
    assert actions(audit) == [
        "analytics.alert_rule.created",
        "analytics.alert_rule.updated",
        "analytics.alert_rule.archived",
    ]
    with pytest.raises(errors.DomainError) as missing:
        alerts.get_rule(TENANT, "nope")
    assert missing.value.code == errors.RES_ALERT_RULE_NOT_FOUND


def test_a_rule_fires_once_then_resolves_once_with_alerts_and_audit_entries(
    alerts: AlertRules, walker: Walker, audit: FakeAuditLog, clock: Clock
) -> None:
    # Given a rule on the conversion into profile (60 %), and 10 users two days ago: 4 completed profile
    alerts.create_rule(TENANT, rule(), ADMIN)
    for n in range(10):
        walker.user(day(2), PROFILE_ONLY if n < 4 else [])

    # When the hourly check runs twice
    first = alerts.check_rules()
    second = alerts.check_rules()

    # Then the first found it firing (40 %) and wrote one alert and one entry; the second changed nothing
    assert (first, second) == ({"firing": 1}, {"firing": 1})
    page = alerts.alerts(TENANT, limit=10, cursor=None)
    assert page.firing_rules == ["profile-low"]
    (alert,) = page.items
    assert (alert.state, alert.value, alert.sessions, alert.rule_version) == ("firing", 40.0, 10, 1)
    assert (alert.window.start, alert.window.end) == (day(7).date(), day(1).date())
    assert "40 %, under 60 %" in alert.message
    assert actions(audit)[-1] == "analytics.alert.firing"
    assert audit.list_entries(TENANT).items[0].actor == CHECK_ACTOR

    # When 10 more users that day all complete profile (70 %), and the check runs an hour later
    for _ in range(10):
        walker.user(day(2), DONE, finish=True)
    clock.now += timedelta(hours=1)
    assert alerts.check_rules() == {"resolved": 1}

    # Then a resolved alert is on top, nothing fires, and the rule's status says why
    page = alerts.alerts(TENANT, limit=10, cursor=None)
    assert [a.state for a in page.items] == ["resolved", "firing"]
    assert page.firing_rules == []
    status = alerts.get_rule(TENANT, "profile-low").status
    assert (status.state, status.value, status.sessions) == ("ok", 70.0, 20)
    assert actions(audit)[-1] == "analytics.alert.resolved"
    assert alerts.list_rules(TENANT, limit=10, cursor=None).firing == 0


def test_a_drop_against_the_window_before_fires_and_too_few_users_say_nothing(
    alerts: AlertRules, walker: Walker
) -> None:
    # Given a drop rule of 10 points; the week before: 8 of 10 finished; this week: 4 of 10
    alerts.create_rule(TENANT, rule(rule_id="drop", kind="conversion_drop", step_id=None, threshold=10), ADMIN)
    alerts.create_rule(TENANT, rule(rule_id="small", min_sessions=50), ADMIN)
    for n in range(10):
        walker.user(day(9), DONE, finish=n < 8)
        walker.user(day(3), DONE, finish=n < 4)

    # When the check runs
    outcome = alerts.check_rules()

    # Then the drop fires (80 % to 40 %); the rule needing 50 users stays unknown, without an alert
    assert outcome == {"firing": 1, "unknown": 1}
    (alert,) = alerts.alerts(TENANT, limit=10, cursor=None).items
    assert (alert.rule_id, alert.value, alert.baseline) == ("drop", 40.0, 80.0)
    assert "fewer than 50 users" in alerts.get_rule(TENANT, "small").status.message


def test_a_rule_turned_off_is_not_checked_and_a_failing_check_fails_the_job_after_the_others(
    alerts: AlertRules, store: FakeAlertRuleStore, walker: Walker
) -> None:
    alerts.create_rule(TENANT, rule(rule_id="a"), ADMIN)
    alerts.create_rule(TENANT, rule(rule_id="b", enabled=False), ADMIN)
    alerts.create_rule(TENANT, rule(rule_id="c"), ADMIN)
    for _ in range(10):
        walker.user(day(2), [])
    store.faults.unavailable("record_check")

    with pytest.raises(RuntimeError, match="1 alert rule checks failed"):
        alerts.check_rules()

    # The other checked rule was judged; the one turned off never was
    states = {r.rule_id: r.status.state for r in alerts.list_rules(TENANT, limit=10, cursor=None).items}
    assert states == {"a": "unknown", "b": "unknown", "c": "firing"}
    assert alerts.check_rules() == {"firing": 2}
