"""The contract of ``FunnelCounters``: an event's counter updates added exactly once, with its marker, and read
back by flow version, segment and period range; and of ``AlertRuleStorePort``: versioned rules, the checked list,
conditional checks and alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

import pytest

from firstmile.analytics.alert_store import AlertRuleConflictError, AlertRuleExistsError
from firstmile.analytics.alerts import AlertRecord, AlertRule, AlertStatus
from firstmile.analytics.counting import CounterKey, CounterUpdate
from firstmile.analytics.ports import MAX_WRITE_ITEMS, AlertRuleStorePort, FunnelCounters
from firstmile.analytics.shapes import Period
from firstmile.audit.models import AuditEvent
from firstmile.audit.ports import AuditLog
from firstmile.errors import DependencyUnavailableError, NotFoundError

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
TENANT = "acme"


def update(period: str, target: str, segment: str = "all", flow_version: int = 1, **amounts: float) -> CounterUpdate:
    return CounterUpdate(CounterKey(TENANT, "welcome", flow_version, segment, period, target), amounts)


class FunnelCountersContract:
    """Subclasses provide ``counters``."""

    implementation: ClassVar[type]

    def test_an_events_updates_are_added_once_however_often_it_comes(self, counters: FunnelCounters) -> None:
        # Given an event's updates: a completed step and its duration, by day and by hour
        updates = [
            update("DAY#2026-12-02", "profile", completed=1, seconds=90.5, h27=1),
            update("HOUR#2026-12-02T10", "profile", completed=1, seconds=90.5, h27=1),
        ]

        # When it is counted, then counted again under the same marker (a redelivery)
        first = counters.count(TENANT, "m-1", updates, NOW)
        again = counters.count(TENANT, "m-1", updates, NOW)

        # Then only the first added anything
        assert (first, again) == (True, False)
        day = counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-02", "2026-12-02")
        assert day == [("DAY#2026-12-02#STEP#profile", {"completed": 1, "seconds": 90.5, "h27": 1})]
        hour = counters.read(TENANT, "welcome", 1, "all", "HOUR", "2026-12-02T10", "2026-12-02T10")
        assert hour == [("HOUR#2026-12-02T10#STEP#profile", {"completed": 1, "seconds": 90.5, "h27": 1})]

    def test_events_add_up_per_item_and_attribute(self, counters: FunnelCounters) -> None:
        counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "profile", entered=1)], NOW)
        counters.count(TENANT, "m-2", [update("DAY#2026-12-02", "profile", completed=1, seconds=10.25)], NOW)
        counters.count(TENANT, "m-3", [update("DAY#2026-12-02", "profile", completed=1, seconds=5.5)], NOW)

        assert counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-02", "2026-12-02") == [
            ("DAY#2026-12-02#STEP#profile", {"entered": 1, "completed": 2, "seconds": 15.75})
        ]

    def test_a_read_holds_its_segment_version_and_days_only_in_key_order(self, counters: FunnelCounters) -> None:
        # Given counters on three days, of two segments and two versions
        for n, (day, segment, version) in enumerate(
            [
                ("2026-11-30", "all", 1),
                ("2026-12-01", "all", 1),
                ("2026-12-02", "all", 1),
                ("2026-12-01", "country=DE", 1),
                ("2026-12-01", "all", 2),
            ]
        ):
            counters.count(TENANT, f"m-{n}", [update(f"DAY#{day}", "invite", segment, version, completed=1)], NOW)
        counters.count(TENANT, "m-flow", [update("DAY#2026-12-01", "FLOW", enrolled=1)], NOW)

        # When the days 1 and 2 of December of version 1's whole funnel are read
        read = counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-01", "2026-12-02")

        # Then both days are there, the flow's item too, and nothing of another day, segment or version
        assert [sk for sk, _ in read] == [
            "DAY#2026-12-01#STEP#FLOW",
            "DAY#2026-12-01#STEP#invite",
            "DAY#2026-12-02#STEP#invite",
        ]
        assert counters.read(TENANT, "welcome", 1, "country=DE", "DAY", "2026-12-01", "2026-12-02") == [
            ("DAY#2026-12-01#STEP#invite", {"completed": 1})
        ]
        assert counters.read(TENANT, "welcome", 1, "all", "HOUR", "2026-12-01T00", "2026-12-02T23") == []

    def test_events_counted_together_add_up_all_or_nothing(self, counters: FunnelCounters) -> None:
        # Given two events counted in one write, their counts merged per item
        merged = [update("DAY#2026-12-02", "FLOW", enrolled=2), update("DAY#2026-12-02", "profile", completed=1)]
        assert counters.count_together([(TENANT, "m-1"), ("other", "m-2")], merged, NOW) is True

        # When a later write holds one of their markers again
        again = counters.count_together(
            [(TENANT, "m-3"), ("other", "m-2")], [update("DAY#2026-12-02", "FLOW", enrolled=5)], NOW
        )

        # Then it adds nothing, not even for the new event, and says so
        assert again is False
        assert counters.read(TENANT, "welcome", 1, "all", "DAY", "2026-12-02", "2026-12-02") == [
            ("DAY#2026-12-02#STEP#FLOW", {"enrolled": 2}),
            ("DAY#2026-12-02#STEP#profile", {"completed": 1}),
        ]
        # ...and the event whose marker was not taken is counted when it comes alone
        assert counters.count(TENANT, "m-3", [update("DAY#2026-12-02", "FLOW", enrolled=5)], NOW) is True

    def test_the_markers_there_are_the_events_counted(self, counters: FunnelCounters) -> None:
        counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW)
        counters.count("other", "m-2", [], NOW)

        assert counters.counted([(TENANT, "m-1"), (TENANT, "m-2"), ("other", "m-2"), ("other", "m-1")]) == {
            (TENANT, "m-1"),
            ("other", "m-2"),
        }
        assert counters.counted([]) == set()

    def test_a_write_holds_at_most_a_transactions_items(self, counters: FunnelCounters) -> None:
        markers = [(TENANT, f"m-{n}") for n in range(MAX_WRITE_ITEMS)]
        with pytest.raises(ValueError, match="more than one counting write holds"):
            counters.count_together(markers, [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW)

    def test_another_tenants_marker_does_not_stop_an_event(self, counters: FunnelCounters) -> None:
        counters.count("other", "m-1", [], NOW)
        assert counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW) is True


class FakeOnlyFunnelCountersContract:
    """What only a fake can be told to do: fail, as a throttled table does."""

    def test_an_unavailable_table_counts_nothing_and_says_so(self, counters: FunnelCounters) -> None:
        faults = counters.faults  # type: ignore[attr-defined]
        faults.unavailable("count")
        with pytest.raises(DependencyUnavailableError):
            counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW)
        assert counters.count(TENANT, "m-1", [update("DAY#2026-12-02", "FLOW", enrolled=1)], NOW) is True


# --- drop-off alert rules ---------------------------------------------------------------------------------------

ADMIN = "admin:u-1"


def alert_rule(rule_id: str = "profile-low", **changes: object) -> AlertRule:
    fields: dict[str, object] = {
        "rule_id": rule_id,
        "flow_id": "welcome",
        "kind": "conversion_below",
        "step_id": "profile",
        "threshold": 60,
        **changes,
    }
    return AlertRule.model_validate(fields)


def rule_event(action: str = "analytics.alert_rule.changed") -> AuditEvent:
    return AuditEvent(tenant=TENANT, actor=ADMIN, action=action, target="alert_rule:test")


def firing_alert(rule: AlertRule, at: datetime = NOW) -> AlertRecord:
    window = Period(start=date(2026, 11, 25), end=date(2026, 12, 1), days=7)
    return AlertRecord(
        alert_id=f"{at:%Y%m%dT%H%M%S}Z-{rule.rule_id}",
        rule_id=rule.rule_id,
        rule_version=rule.version,
        flow_id=rule.flow_id,
        step_id=rule.step_id,
        kind=rule.kind,
        threshold=rule.threshold,
        state="firing",
        at=at,
        value=40.0,
        baseline=None,
        sessions=50,
        message="conversion into profile is 40 %, under 60 %",
        window=window,
        previous_window=window,
    )


class AlertRuleStoreContract:
    """Subclasses provide ``rules`` built over ``audit_log``."""

    implementation: ClassVar[type]

    def test_a_rule_is_created_as_version_one_unchecked_and_its_id_is_taken_for_good(
        self, rules: AlertRuleStorePort, audit_log: AuditLog
    ) -> None:
        # When a rule is created, with its audit entry
        created = rules.create_rule(TENANT, alert_rule(version=7), ADMIN, NOW, event=rule_event("rule.created"))

        # Then it is version 1, read back with an unknown status, and listed for the hourly check
        assert created.version == 1
        view = rules.get_rule(TENANT, "profile-low")
        assert view is not None
        assert (view.version, view.threshold, view.status) == (1, 60, AlertStatus())
        assert rules.checked_rules() == [(TENANT, "profile-low")]
        assert [e.action for e in audit_log.list_entries(TENANT).items] == ["rule.created"]

        # And a second rule with the same id is refused with the stored one, writing nothing
        with pytest.raises(AlertRuleExistsError) as refused:
            rules.create_rule(TENANT, alert_rule(threshold=10), ADMIN, NOW, event=rule_event("rule.again"))
        assert refused.value.rule is not None and refused.value.rule.threshold == 60
        assert len(audit_log.list_entries(TENANT).items) == 1

    def test_a_change_needs_the_stored_version_and_leaves_a_version_with_its_diff(
        self, rules: AlertRuleStorePort
    ) -> None:
        rules.create_rule(TENANT, alert_rule(), ADMIN, NOW, event=rule_event())

        # When it is changed on version 1, then again on the stale version 1
        changed = rules.replace_rule(TENANT, alert_rule(threshold=45), 1, "admin:u-2", NOW, event=rule_event())
        with pytest.raises(AlertRuleConflictError) as stale:
            rules.replace_rule(TENANT, alert_rule(threshold=30), 1, ADMIN, NOW, event=rule_event())

        # Then the first made version 2; the second was refused with the stored rule
        assert changed.version == 2
        assert stale.value.rule is not None and stale.value.rule.threshold == 45
        history = rules.history(TENANT, "profile-low", limit=10, cursor=None)
        assert [(e.version, e.changed_by) for e in history.items] == [(2, "admin:u-2"), (1, ADMIN)]
        assert [(c.field, c.before, c.after) for c in history.items[0].diff] == [("threshold", 60.0, 45.0)]
        assert "version" not in {c.field for c in history.items[1].diff}

        # And a rule that does not exist is not found
        with pytest.raises(NotFoundError):
            rules.replace_rule(TENANT, alert_rule("nope"), 1, ADMIN, NOW, event=rule_event())

    def test_only_enabled_unarchived_rules_are_checked_and_turning_one_off_forgets_its_state(
        self, rules: AlertRuleStorePort
    ) -> None:
        first = rules.create_rule(TENANT, alert_rule("a"), ADMIN, NOW, event=rule_event())
        rules.create_rule(TENANT, alert_rule("b"), ADMIN, NOW, event=rule_event())
        rules.create_rule("other", alert_rule("c", enabled=False), ADMIN, NOW, event=rule_event())
        firing = AlertStatus(state="firing", since=NOW, checked_at=NOW, value=40.0, sessions=50)
        assert rules.record_check(TENANT, first, AlertStatus(), firing)

        # When one is turned off and the other archived
        rules.replace_rule(TENANT, alert_rule("a", enabled=False), 1, ADMIN, NOW, event=rule_event())
        rules.replace_rule(TENANT, alert_rule("b", archived=True), 1, ADMIN, NOW, event=rule_event())

        # Then none is checked, and the one that was firing is unknown again
        assert rules.checked_rules() == []
        view = rules.get_rule(TENANT, "a")
        assert view is not None and view.status == AlertStatus()
        assert rules.firing_rules(TENANT) == []

        # And turned on again, it is checked again
        rules.replace_rule(TENANT, alert_rule("a"), 2, ADMIN, NOW, event=rule_event())
        assert rules.checked_rules() == [(TENANT, "a")]

    def test_a_check_is_stored_only_on_the_version_and_state_it_judged(
        self, rules: AlertRuleStorePort, audit_log: AuditLog
    ) -> None:
        rule = rules.create_rule(TENANT, alert_rule(), ADMIN, NOW, event=rule_event("rule.created"))
        firing = AlertStatus(state="firing", since=NOW, checked_at=NOW, value=40.0, sessions=50, message="low")

        # When a check finds it firing, with its alert and entry, and the same check is stored again
        first = rules.record_check(
            TENANT, rule, AlertStatus(), firing, firing_alert(rule), event=rule_event("alert.firing")
        )
        again = rules.record_check(
            TENANT, rule, AlertStatus(), firing, firing_alert(rule), event=rule_event("alert.firing")
        )

        # Then only the first applied: one alert, one entry, the rule firing
        assert (first, again) == (True, False)
        assert [a.rule_id for a in rules.list_alerts(TENANT, limit=10, cursor=None).items] == ["profile-low"]
        assert [e.action for e in audit_log.list_entries(TENANT).items] == ["alert.firing", "rule.created"]
        assert rules.firing_rules(TENANT) == ["profile-low"]
        view = rules.get_rule(TENANT, "profile-low")
        assert view is not None and view.status == firing

        # And a check of a version since replaced writes nothing
        rules.replace_rule(TENANT, alert_rule(threshold=50), 1, ADMIN, NOW, event=rule_event())
        assert not rules.record_check(TENANT, rule, firing, AlertStatus(state="ok", checked_at=NOW))

    def test_rules_page_in_id_order_and_alerts_newest_first(self, rules: AlertRuleStorePort) -> None:
        for rule_id in ("c", "a", "b"):
            rules.create_rule(TENANT, alert_rule(rule_id), ADMIN, NOW, event=rule_event())
        rules.create_rule("other", alert_rule("z"), ADMIN, NOW, event=rule_event())
        a = rules.get_rule(TENANT, "a")
        assert a is not None
        firing = AlertStatus(state="firing", since=NOW, checked_at=NOW)
        resolved = AlertStatus(state="ok", since=NOW, checked_at=NOW)
        rules.record_check(TENANT, a, AlertStatus(), firing, firing_alert(a, NOW))
        later = NOW + timedelta(hours=1)
        rules.record_check(TENANT, a, firing, resolved, firing_alert(a, later).model_copy(update={"state": "resolved"}))

        first = rules.list_rules(TENANT, limit=2, cursor=None)
        rest = rules.list_rules(TENANT, limit=2, cursor=first.next_cursor)
        assert [r.rule_id for r in first.items + rest.items] == ["a", "b", "c"]
        alerts = rules.list_alerts(TENANT, limit=1, cursor=None)
        older = rules.list_alerts(TENANT, limit=1, cursor=alerts.next_cursor)
        assert [a.state for a in alerts.items + older.items] == ["resolved", "firing"]
        assert rules.list_alerts("other", limit=10, cursor=None).items == []
