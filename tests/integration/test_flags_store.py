"""The flag store against the emulator: round trips, versioned changes with history, the epoch, the kill switch,
whole-set loads, and a flag-set cache reading through the store."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.audit.store import AuditStore
from firstmile.flags.models import KillSwitch
from firstmile.flags.store import FlagConflictError, FlagStore, flags_partition
from tests.contracts.flags import (
    ADMIN,
    T0,
    TENANT,
    FlagStoreContract,
    audited,
    boolean_flag,
    segment,
)
from tests.integration.conftest import DynamoCalls

# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def store(table: Any) -> FlagStore:
    return FlagStore(table)


class TestFlagStoreContract(FlagStoreContract):
    """The flag store's contract, on the table engine."""

    implementation = FlagStore

    @pytest.fixture
    def store(self, table: Any, audit_log: AuditStore) -> FlagStore:
        return FlagStore(table, audit=audit_log)


# --- flags ------------------------------------------------------------------------------------------------


def test_a_replace_losing_a_race_after_its_read_conflicts_with_the_winner(store: FlagStore, table: Any) -> None:
    # Given a flag whose stored version moves on between the store's read and its transaction
    store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
    winner = store.replace_flag(TENANT, boolean_flag(owner="team-growth"), 1, ADMIN, T0, event=audited(TENANT))
    original_get = store.get_flag
    stale = winner.model_copy(update={"version": 1})
    store.get_flag = lambda tenant, key: stale  # type: ignore[method-assign]

    # When a replace based on version 1 is written
    with pytest.raises(FlagConflictError) as conflict:
        store.replace_flag(TENANT, boolean_flag(enabled=False), 1, ADMIN, T0, event=audited(TENANT))

    # Then the transaction's condition refuses it and returns the winner
    store.get_flag = original_get  # type: ignore[method-assign]
    assert conflict.value.flag == winner
    assert store.get_flag(TENANT, "new-checkout") == winner


# --- the epoch, the kill switch and whole sets --------------------------------------------------------------


def test_the_epoch_is_one_consistent_get_item(store: FlagStore, calls: DynamoCalls) -> None:
    # Given a tenant with flags, history and a kill switch
    store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
    store.replace_flag(TENANT, boolean_flag(enabled=False), 1, ADMIN, T0, event=audited(TENANT))
    store.set_kill_switch(TENANT, KillSwitch(all=True), ADMIN, T0)
    calls.names.clear()

    # When the epoch is read
    store.epoch(TENANT)

    # Then that was one GetItem
    assert calls.names == ["GetItem"]


def test_load_is_the_epochs_get_item_and_one_query_each_for_flags_and_segments(
    store: FlagStore, calls: DynamoCalls
) -> None:
    # Given flags, a segment and a kill switch
    store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
    store.create_flag(TENANT, boolean_flag("retired", archived=True), ADMIN, T0, event=audited(TENANT))
    store.put_segment(TENANT, segment(), ADMIN, T0, event=audited(TENANT))
    store.set_kill_switch(TENANT, KillSwitch(all=True), ADMIN, T0)
    calls.names.clear()

    # When the whole set is loaded
    store.load(TENANT)

    # Then that was the epoch's GetItem and one Query each for flags and segments (no Scan)
    assert calls.names == ["GetItem", "Query", "Query"]


def test_the_stored_items_have_the_documented_shapes(store: FlagStore, table: Any) -> None:
    # Given one flag, changed once, one segment and a kill switch
    store.create_flag(TENANT, boolean_flag(), ADMIN, T0, event=audited(TENANT))
    store.replace_flag(TENANT, boolean_flag(enabled=False), 1, ADMIN, T0, event=audited(TENANT))
    store.put_segment(TENANT, segment(), ADMIN, T0, event=audited(TENANT))
    store.set_kill_switch(TENANT, KillSwitch(all=True), ADMIN, T0)

    # Then the partition holds exactly these items, by kind
    partition = {":pk": flags_partition(TENANT)}
    items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues=partition)["Items"]
    assert [(i["sk"], i["kind"]) for i in items] == [
        ("EPOCH", "flag_epoch"),
        ("FLAG#new-checkout", "flag"),
        ("HISTORY#new-checkout#00000001", "flag_version"),
        ("HISTORY#new-checkout#00000002", "flag_version"),
        ("SEGMENT#beta-testers", "flag_segment"),
    ]
    epoch, flag, *_ = items
    # Killed flags and tags are string sets; DynamoDB stores no empty set, so nothing killed leaves them out.
    assert (epoch["version"], epoch["all"], epoch.get("flags"), epoch.get("tags")) == (3, True, None, None)
    assert (flag["key"], flag["version"], flag["flag"]["version"], flag["updated_by"]) == ("new-checkout", 2, 2, ADMIN)
