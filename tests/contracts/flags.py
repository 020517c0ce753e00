"""The contract of ``FlagStorePort``: round trips, versioned changes with history, the epoch, the kill switch,
settings, rollout plans, exposure counts, whole-set loads, and a flag-set cache reading through the store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

import pytest

from firstmile.audit.models import AuditEvent
from firstmile.audit.ports import AuditLog
from firstmile.errors import NotFoundError, VersionConflictError
from firstmile.flags.cache import FlagEpoch, FlagSetCache
from firstmile.flags.history import FieldChange, flag_diff
from firstmile.flags.models import (
    Condition,
    EvaluationContext,
    EvaluationReason,
    Flag,
    FlagSettings,
    FlagType,
    KillSwitch,
    Operator,
    Rule,
    Segment,
    Serve,
    Variant,
)
from firstmile.flags.ports import FlagStorePort
from firstmile.flags.rollout import RolloutPlan, RolloutStatus, RolloutStep
from firstmile.flags.shapes import KillSwitchChange
from firstmile.flags.store import FlagConflictError, FlagExistsError
from tests.contracts.paging import assert_cursor_refused, every_page
from tests.factories import NOW, FakeClock

T0 = datetime.fromtimestamp(NOW, UTC)
TENANT = "t-acme"
ADMIN = "admin:u-1"


# --- test data --------------------------------------------------------------------------------------------


def boolean_flag(key: str = "new-checkout", **changes: Any) -> Flag:
    fields: dict[str, Any] = {
        "key": key,
        "description": "The new checkout",
        "enabled": True,
        "rules": [
            Rule(
                id="beta-markets",
                conditions=[Condition(attribute="country", operator=Operator.IN, value=["DE", "FR"])],
                percentage=12.5,
                serve=Serve(value=True),
            )
        ],
        "fallthrough": Serve(value=True),
        "tags": ["checkout"],
        "owner": "team-payments",
        **changes,
    }
    return Flag(**fields)


def variants_flag(key: str = "button-colour") -> Flag:
    return Flag(
        key=key,
        type=FlagType.VARIANTS,
        variants=[
            Variant(key="blue", value={"hex": "#00f", "contrast": 4.5}, weight=3),
            Variant(key="green", value={"hex": "#0f0", "contrast": 1.25}, weight=1),
        ],
        off_variant="blue",
        enabled=True,
        fallthrough=Serve(split=True),
    )


def segment(key: str = "beta-testers") -> Segment:
    return Segment(
        key=key,
        description="People who asked for early access",
        users=["u-alice", "u-bob"],
        conditions=[Condition(attribute="plan", operator=Operator.EQ, value="pro")],
    )


def context(user: str = "u-alice") -> EvaluationContext:
    return EvaluationContext(tenant=TENANT, user_id=user, attributes={"country": "US"})


def audited(tenant: str, target: str = "flag-store-test") -> AuditEvent:
    """The audit entry a change made in these tests is written with."""
    return AuditEvent(tenant=tenant, actor=ADMIN, action="flag.changed", target=target)


def epoch_version(store: FlagStorePort, tenant: str = TENANT) -> int:
    epoch = store.epoch(tenant)
    return epoch.version if epoch else 0


def plan(key: str = "new-checkout", *, version: int = 1, status: RolloutStatus = RolloutStatus.ACTIVE) -> RolloutPlan:
    return RolloutPlan(
        flag_key=key,
        rule_id="beta-markets",
        steps=[RolloutStep(percentage=25, min_dwell_minutes=60), RolloutStep(percentage=100, min_dwell_minutes=60)],
        status=status,
        started_at=T0,
        step_started_at=T0,
        updated_at=T0,
        initial_percentage=12.5,
        version=version,
    )


class FlagStoreContract:
    """Subclasses provide ``store`` and the ``audit_log`` its audited changes append to."""

    implementation: ClassVar[type]

    def test_a_flag_round_trips_as_version_1_and_its_key_is_taken_once(self, store: FlagStorePort) -> None:
        # Given a boolean flag and a variants flag with fractional values
        created = store.create_flag(TENANT, boolean_flag(version=7), ADMIN, T0, event=audited(TENANT))
        colours = store.create_flag(TENANT, variants_flag(), ADMIN, T0, event=audited(TENANT))

        # Then each is stored as version 1 and reads back equal, floats and all
        assert created.version == 1
        assert store.get_flag(TENANT, "new-checkout") == created
        assert store.get_flag(TENANT, "button-colour") == colours
        assert store.get_flag(TENANT, "button-colour").variants[1].value == {"hex": "#0f0", "contrast": 1.25}  # type: ignore[union-attr]
        assert store.get_flag("t-other", "new-checkout") is None

        # When the key is created again
        with pytest.raises(FlagExistsError) as exists:
            store.create_flag(TENANT, boolean_flag(description="a second one"), ADMIN, T0, event=audited(TENANT))

        # Then it is refused with the stored flag, and nothing changed
        assert exists.value.flag == created
        assert exists.value.current_version == 1
        assert store.get_flag(TENANT, "new-checkout") == created

    def test_a_replace_names_the_version_it_read_and_a_stale_one_conflicts(self, store: FlagStorePort) -> None:
        # Given a flag at version 1, replaced once
        store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
        second = store.replace_flag(
            TENANT, boolean_flag(enabled=False), 1, "admin:u-2", T0 + timedelta(minutes=1), event=audited(TENANT)
        )
        assert second.version == 2
        assert store.get_flag(TENANT, "new-checkout") == second

        # When someone replaces it again from version 1
        with pytest.raises(FlagConflictError) as conflict:
            store.replace_flag(
                TENANT, boolean_flag(owner="team-growth"), 1, ADMIN, T0 + timedelta(minutes=2), event=audited(TENANT)
            )

        # Then it conflicts, carrying the stored flag, and nothing changed
        assert conflict.value.flag == second
        assert conflict.value.current_version == 2
        assert store.get_flag(TENANT, "new-checkout") == second
        # ...and a flag that does not exist cannot be replaced
        with pytest.raises(NotFoundError):
            store.replace_flag(TENANT, boolean_flag("missing"), 1, ADMIN, T0, event=audited(TENANT))

    def test_every_change_of_a_flag_or_segment_adds_exactly_one_to_the_epoch(self, store: FlagStorePort) -> None:
        # Given a tenant without flags
        assert store.epoch(TENANT) is None

        # When flags and segments are created and changed, Then each change adds one
        store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
        assert epoch_version(store) == 1
        store.create_flag(TENANT, variants_flag(), ADMIN, T0, event=audited(TENANT))
        assert epoch_version(store) == 2
        store.replace_flag(TENANT, boolean_flag(enabled=False), 1, ADMIN, T0, event=audited(TENANT))
        assert epoch_version(store) == 3
        store.put_segment(TENANT, segment(), ADMIN, T0, event=audited(TENANT))
        assert epoch_version(store) == 4
        store.put_segment(TENANT, segment().model_copy(update={"users": ["u-carol"]}), ADMIN, T0, event=audited(TENANT))
        assert epoch_version(store) == 5

        # ...and a refused change adds nothing
        with pytest.raises(FlagConflictError):
            store.replace_flag(TENANT, boolean_flag(), 1, ADMIN, T0, event=audited(TENANT))
        with pytest.raises(FlagExistsError):
            store.create_flag(TENANT, variants_flag(), ADMIN, T0, event=audited(TENANT))
        assert epoch_version(store) == 5
        # ...and other tenants' epochs are their own
        assert store.epoch("t-other") is None

    def test_history_lists_every_version_newest_first_with_its_diff(self, store: FlagStorePort) -> None:
        # Given a flag created, switched off, then retagged by someone else
        store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
        store.replace_flag(
            TENANT, boolean_flag(enabled=False), 1, ADMIN, T0 + timedelta(minutes=1), event=audited(TENANT)
        )
        store.replace_flag(
            TENANT,
            boolean_flag(enabled=False, tags=["checkout", "risky"]),
            2,
            "admin:u-2",
            T0 + timedelta(minutes=2),
            event=audited(TENANT),
        )

        # When its history is read a page at a time
        first = store.history(TENANT, "new-checkout", limit=2, cursor=None)
        rest = store.history(TENANT, "new-checkout", limit=2, cursor=first.next_cursor)

        # Then the versions come newest first, each with who, when and what changed
        entries = [*first.items, *rest.items]
        assert [e.version for e in entries] == [3, 2, 1]
        assert rest.next_cursor is None
        newest, middle, oldest = entries
        assert newest.changed_by == "admin:u-2"
        assert newest.changed_at == T0 + timedelta(minutes=2)
        assert newest.diff == [FieldChange(field="tags", before=["checkout"], after=["checkout", "risky"])]
        assert middle.diff == [FieldChange(field="enabled", before=True, after=False)]
        assert newest.flag == store.get_flag(TENANT, "new-checkout")
        # ...the first version lists the fields it was created with, the fractional percentage intact
        created_fields = {change.field: change for change in oldest.diff}
        assert {"key", "enabled", "rules", "tags", "owner"} <= set(created_fields)
        assert all(change.before is None for change in oldest.diff)
        created_rules: Any = created_fields["rules"].after
        assert created_rules[0]["percentage"] == 12.5
        # ...and a cursor from this history is refused by another flag's history
        assert_cursor_refused(partial(store.history, TENANT, "button-colour", limit=2), first.next_cursor)

    def test_a_rollback_is_a_replace_with_an_earlier_versions_content(self, store: FlagStorePort) -> None:
        # Given a flag changed twice
        original = store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
        store.replace_flag(TENANT, boolean_flag(enabled=False), 1, ADMIN, T0, event=audited(TENANT))
        store.replace_flag(
            TENANT, boolean_flag(enabled=False, owner="team-growth"), 2, ADMIN, T0, event=audited(TENANT)
        )

        # When version 1 is read back and written as the next version
        earlier = store.get_history_version(TENANT, "new-checkout", 1)
        assert earlier is not None
        assert earlier.flag == original
        rolled_back = store.replace_flag(TENANT, earlier.flag, 3, ADMIN, T0 + timedelta(hours=1), event=audited(TENANT))

        # Then the flag has version 1's content under version 4, and the history says what the rollback changed
        assert rolled_back == original.model_copy(update={"version": 4})
        latest = store.get_history_version(TENANT, "new-checkout", 4)
        assert latest is not None
        assert {change.field for change in latest.diff} == {"enabled", "owner"}
        assert store.get_history_version(TENANT, "new-checkout", 5) is None

    def test_flags_list_in_key_order_a_page_at_a_time_and_cursors_stay_in_their_tenant(
        self, store: FlagStorePort
    ) -> None:
        # Given five flags, one archived, and a segment in the same partition
        for key in ["gamma", "alpha", "epsilon", "beta", "delta"]:
            store.create_flag(TENANT, boolean_flag(key, archived=key == "delta"), ADMIN, T0, event=audited(TENANT))
        store.put_segment(TENANT, segment(), ADMIN, T0, event=audited(TENANT))

        # When they are listed two at a time
        pages = every_page(partial(store.list_flags, TENANT, limit=2))

        # Then every flag comes once, archived ones included, and nothing else
        assert [f.key for page in pages for f in page.items] == ["alpha", "beta", "delta", "epsilon", "gamma"]
        assert len(pages) == 3
        # ...and a cursor is refused by another tenant's list and by another kind of list
        assert_cursor_refused(partial(store.list_flags, "t-other", limit=2), pages[0].next_cursor)
        assert_cursor_refused(partial(store.list_segments, TENANT, limit=2), pages[0].next_cursor)

    def test_segments_round_trip_and_list(self, store: FlagStorePort) -> None:
        # Given two segments, one of them replaced
        store.put_segment(TENANT, segment("beta-testers"), ADMIN, T0, event=audited(TENANT))
        store.put_segment(TENANT, segment("staff"), ADMIN, T0, event=audited(TENANT))
        replaced = store.put_segment(
            TENANT, segment("staff").model_copy(update={"users": ["u-carol"]}), ADMIN, T0, event=audited(TENANT)
        )

        # Then each reads back as last written, and they list in key order
        assert store.get_segment(TENANT, "staff") == replaced
        assert store.get_segment(TENANT, "beta-testers") == segment("beta-testers")
        assert store.get_segment("t-other", "staff") is None
        listed = store.list_segments(TENANT, limit=10, cursor=None)
        assert [s.key for s in listed.items] == ["beta-testers", "staff"]
        assert listed.next_cursor is None

    def test_the_kill_switch_is_read_back_by_the_epoch_without_changing_its_version(self, store: FlagStorePort) -> None:
        # Given a tenant with a flag
        store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))

        # When a flag and a tag are killed
        killed = KillSwitch(flags=frozenset({"new-checkout"}), tags=frozenset({"risky"}))
        assert store.set_kill_switch(TENANT, killed, ADMIN, T0) == killed

        # Then the epoch carries the kill switch at the same version
        assert store.epoch(TENANT) == FlagEpoch(version=1, kill_switch=killed)

        # When everything is killed, then everything is released
        store.set_kill_switch(TENANT, KillSwitch(all=True), ADMIN, T0)
        assert store.epoch(TENANT) == FlagEpoch(version=1, kill_switch=KillSwitch(all=True))
        store.set_kill_switch(TENANT, KillSwitch(), ADMIN, T0)
        assert store.epoch(TENANT) == FlagEpoch(version=1, kill_switch=KillSwitch())

        # ...and a tenant that only ever had a kill switch has an epoch at version 0
        store.set_kill_switch("t-other", KillSwitch(all=True), ADMIN, T0)
        assert store.epoch("t-other") == FlagEpoch(version=0, kill_switch=KillSwitch(all=True))

    def test_load_returns_exactly_the_stored_flags_and_segments(self, store: FlagStorePort) -> None:
        # Given flags (one archived, one with history), segments, a kill switch, and another tenant's flag
        checkout = store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
        checkout = store.replace_flag(
            TENANT, boolean_flag(enabled=False), checkout.version, ADMIN, T0, event=audited(TENANT)
        )
        colours = store.create_flag(TENANT, variants_flag(), ADMIN, T0, event=audited(TENANT))
        retired = store.create_flag(TENANT, boolean_flag("retired", archived=True), ADMIN, T0, event=audited(TENANT))
        testers = store.put_segment(TENANT, segment(), ADMIN, T0, event=audited(TENANT))
        store.set_kill_switch(TENANT, KillSwitch(tags=frozenset({"checkout"})), ADMIN, T0)
        store.create_flag("t-other", boolean_flag("elsewhere"), ADMIN, T0, event=audited("t-other"))

        # When the whole set is loaded
        flag_set = store.load(TENANT)

        # Then it holds exactly the tenant's flags and segments at the epoch's version, with its kill switch
        assert flag_set.tenant == TENANT
        assert flag_set.flags == {"new-checkout": checkout, "button-colour": colours, "retired": retired}
        assert flag_set.segments == {"beta-testers": testers}
        assert flag_set.version == 5
        assert flag_set.kill_switch == KillSwitch(tags=frozenset({"checkout"}))
        # ...and a tenant without flags loads an empty set
        empty = store.load("t-nobody")
        assert (empty.version, empty.flags, empty.segments) == (0, {}, {})

    def test_a_cache_over_the_store_sees_a_kill_after_its_check_interval(self, store: FlagStorePort) -> None:
        # Given a cache checking every second over the store, with a clock of its own
        store.create_flag(TENANT, boolean_flag(rules=[]), ADMIN, T0, event=audited(TENANT))
        clock = FakeClock(now=100.0)
        cache = FlagSetCache(store, clock=clock, check_interval_seconds=1.0, staleness_budget_seconds=4.0)
        before = cache.evaluate(TENANT, "new-checkout", context())
        assert (before.value, before.reason) == (True, EvaluationReason.STATIC)

        # When the flag is killed
        store.set_kill_switch(TENANT, KillSwitch(flags=frozenset({"new-checkout"})), ADMIN, T0)

        # Then within the check interval the cached set still serves it
        clock.advance(0.5)
        assert cache.evaluate(TENANT, "new-checkout", context()).value is True
        # ...and after the interval the kill is in force
        clock.advance(0.6)
        after = cache.evaluate(TENANT, "new-checkout", context())
        assert (after.value, after.reason) == (False, EvaluationReason.DISABLED)

        # When the flag itself changes, Then the next check after the interval loads the new version
        store.replace_flag(
            TENANT, boolean_flag(rules=[], fallthrough=Serve(value=False)), 1, ADMIN, T0, event=audited(TENANT)
        )
        store.set_kill_switch(TENANT, KillSwitch(), ADMIN, T0)
        clock.advance(1.1)
        changed = cache.evaluate(TENANT, "new-checkout", context())
        assert (changed.value, changed.flag_version) == (False, 2)

    def test_audited_changes_leave_their_entry_and_refused_ones_none(
        self, store: FlagStorePort, audit_log: AuditLog
    ) -> None:
        store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT, "created"))
        with pytest.raises(FlagExistsError):
            store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT, "duplicate"))
        with pytest.raises(FlagConflictError):
            store.replace_flag(TENANT, boolean_flag(), 5, ADMIN, T0, event=audited(TENANT, "stale"))
        store.put_segment(TENANT, segment(), ADMIN, T0, event=audited(TENANT, "segment"))

        assert [e.target for e in reversed(audit_log.list_entries(TENANT).items)] == ["created", "segment"]

    def test_a_plan_is_stored_with_its_flag_step_and_only_from_the_version_read(self, store: FlagStorePort) -> None:
        # Given a flag, and a plan started with its first step in the same change
        store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
        started = plan()
        stepped = store.replace_flag(
            TENANT,
            boolean_flag(description="first step"),
            1,
            ADMIN,
            T0,
            event=audited(TENANT),
            also=store.plan_writes(TENANT, started, None),
        )
        assert store.get_plan(TENANT, "new-checkout") == started
        assert store.active_plans() == [(TENANT, "new-checkout")]

        # When a second plan is started while the first is active
        with pytest.raises(FlagConflictError):
            store.replace_flag(
                TENANT,
                boolean_flag(description="second plan"),
                2,
                ADMIN,
                T0,
                event=audited(TENANT),
                also=store.plan_writes(TENANT, plan(version=2), None),
            )

        # Then neither the flag nor the plan changed
        assert store.get_flag(TENANT, "new-checkout") == stepped
        assert store.get_plan(TENANT, "new-checkout") == started
        # ...and a plan is replaced only from the version stored
        with pytest.raises(VersionConflictError) as stale:
            store.put_plan(TENANT, plan(version=3), 2)
        assert stale.value.current_version == 1
        ended = store.put_plan(TENANT, plan(version=2, status=RolloutStatus.CANCELLED), 1, event=audited(TENANT))
        assert store.get_plan(TENANT, "new-checkout") == ended
        assert store.active_plans() == []
        assert store.get_plan(TENANT, "other") is None

    def test_active_plans_of_every_tenant_are_listed(self, store: FlagStorePort) -> None:
        store.put_plan(TENANT, plan("alpha"), None)
        store.put_plan("t-other", plan("beta"), None)
        store.put_plan(TENANT, plan("gamma", status=RolloutStatus.COMPLETED), None)

        assert sorted(store.active_plans()) == [(TENANT, "alpha"), ("t-other", "beta")]

    def test_kill_switch_changes_add_and_remove_members_and_are_logged_for_their_flags(
        self, store: FlagStorePort, audit_log: AuditLog
    ) -> None:
        store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
        assert store.kill_switch_state(TENANT).flags == []

        store.change_kill_switch(
            TENANT,
            KillSwitchChange(flag="new-checkout", reason="broken"),
            ADMIN,
            T0,
            concerned=["new-checkout"],
            event=audited(TENANT, "kill"),
        )
        store.change_kill_switch(
            TENANT, KillSwitchChange(tag="risky"), ADMIN, T0 + timedelta(seconds=1), concerned=[], event=audited(TENANT)
        )
        state = store.change_kill_switch(
            TENANT,
            KillSwitchChange(flag="new-checkout", killed=False),
            "admin:u-2",
            T0 + timedelta(seconds=2),
            concerned=["new-checkout"],
            event=audited(TENANT, "revive"),
        )

        assert (state.all, state.flags, state.tags) == (False, [], ["risky"])
        assert (state.updated_at, state.updated_by) == (T0 + timedelta(seconds=2), "admin:u-2")
        assert store.kill_switch_state(TENANT) == state
        epoch = store.epoch(TENANT)
        assert epoch is not None and epoch.version == 1
        assert epoch.kill_switch == KillSwitch(tags=frozenset({"risky"}))
        changes = store.kill_switch_changes(TENANT, "new-checkout", limit=5)
        assert [(c.target, c.killed, c.changed_by) for c in changes] == [
            ("flag:new-checkout", False, "admin:u-2"),
            ("flag:new-checkout", True, ADMIN),
        ]
        assert changes[1].reason == "broken"
        assert len(store.kill_switch_changes(TENANT, "new-checkout", limit=1)) == 1
        assert store.kill_switch_changes(TENANT, "button-colour", limit=5) == []
        assert "revive" in [e.target for e in audit_log.list_entries(TENANT).items]

    def test_settings_are_versioned_on_the_epoch(self, store: FlagStorePort) -> None:
        assert store.get_settings(TENANT) == FlagSettings()

        first = store.put_settings(
            TENANT,
            FlagSettings(client_attributes=["plan"], exposure_sample_rate=0.25),
            None,
            ADMIN,
            T0,
            event=audited(TENANT),
        )
        with pytest.raises(VersionConflictError) as stale:
            store.put_settings(TENANT, FlagSettings(), 0, ADMIN, T0, event=audited(TENANT))
        second = store.put_settings(TENANT, FlagSettings(exposure_sample_rate=1.0), 1, ADMIN, T0, event=audited(TENANT))

        assert (first.version, second.version) == (1, 2)
        assert stale.value.current_version == 1
        assert store.get_settings(TENANT) == second
        epoch = store.epoch(TENANT)
        assert epoch is not None and (epoch.version, epoch.settings) == (0, second)

    def test_exposures_count_once_per_event_and_list_by_day_and_variant(self, store: FlagStorePort) -> None:
        counts = {
            ("new-checkout", "2027-01-14", "on"): (2, 20.0),
            ("new-checkout", "2027-01-15", "off"): (1, 3.333),
            ("new-checkout", "2027-01-15", "on"): (1, 10.0),
            ("button-colour", "2027-01-15", "blue"): (1, 1.0),
        }

        assert store.add_exposures(TENANT, "e-1", counts, T0)
        assert not store.add_exposures(TENANT, "e-1", counts, T0)
        assert store.add_exposures(TENANT, "e-2", {("new-checkout", "2027-01-15", "on"): (1, 0.5)}, T0)

        listed = store.exposure_counts(TENANT, "new-checkout", date(2027, 1, 15))
        assert [(c.day.isoformat(), c.variant, c.sampled, c.estimated) for c in listed] == [
            ("2027-01-15", "off", 1, 3.333),
            ("2027-01-15", "on", 2, 10.5),
        ]
        assert len(store.exposure_counts(TENANT, "new-checkout", date(2027, 1, 1))) == 3
        assert store.exposure_counts("t-other", "new-checkout", date(2027, 1, 1)) == []

    def test_an_event_with_more_counters_than_one_transaction_holds_counts_every_one(
        self, store: FlagStorePort
    ) -> None:
        counts = {(f"flag-{n:03d}", "2027-01-15", "on"): (1, 1.0) for n in range(150)}

        assert store.add_exposures(TENANT, "e-big", counts, T0)
        assert not store.add_exposures(TENANT, "e-big", counts, T0)

        assert all(
            [c.sampled for c in store.exposure_counts(TENANT, f"flag-{n:03d}", date(2027, 1, 15))] == [1]
            for n in (0, 98, 99, 149)
        )

    def test_a_history_entry_is_rewritten_in_place_and_a_missing_one_is_not_found(self, store: FlagStorePort) -> None:
        store.create_flag(TENANT, boolean_flag(owner="u-alice"), ADMIN, T0, event=audited(TENANT))
        store.replace_flag(TENANT, boolean_flag(owner="u-alice", enabled=False), 1, ADMIN, T0, event=audited(TENANT))
        first, second = store.history_entries(TENANT, "new-checkout")
        cleaned = boolean_flag(owner="someone").model_copy(update={"version": 1})

        store.rewrite_history_entry(
            TENANT, first.model_copy(update={"flag": cleaned, "diff": flag_diff(None, cleaned)})
        )

        rewritten, kept = store.history_entries(TENANT, "new-checkout")
        assert rewritten.flag == cleaned
        assert (rewritten.version, rewritten.changed_by, rewritten.changed_at) == (1, ADMIN, T0)
        assert kept == second
        with pytest.raises(NotFoundError):
            store.rewrite_history_entry(TENANT, first.model_copy(update={"version": 9}))
