"""The container's flag-set cache: the kill switch within 5 seconds under a controlled clock, and the staleness
fallback when the store cannot be read."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firstmile.flags.cache import KILL_SWITCH_BOUND_SECONDS, FlagEpoch, FlagSetCache, Freshness
from firstmile.flags.models import EvaluationContext, EvaluationError, EvaluationReason, FlagSet, KillSwitch
from tests.unit.flags.flagsets import ON, TENANT, boolean_flag

CONTEXT = EvaluationContext(tenant=TENANT, user_id="u-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Store:
    """A tenant's flags as the table would hold them; ``down`` makes every read fail."""

    def __init__(self) -> None:
        self.version = 1
        self.kill_switch = KillSwitch()
        self.flags = {"new-editor": boolean_flag("new-editor", fallthrough=ON, tags=("editor",), version=1)}
        self.down = False
        self.epoch_reads = 0
        self.loads = 0

    def epoch(self, tenant: str) -> FlagEpoch | None:
        self.epoch_reads += 1
        if self.down:
            raise ConnectionError("table unreachable")
        return FlagEpoch(self.version, self.kill_switch)

    def load(self, tenant: str) -> FlagSet:
        self.loads += 1
        if self.down:
            raise ConnectionError("table unreachable")
        return FlagSet(tenant=tenant, version=self.version, flags=dict(self.flags))


def _served_on(cache: FlagSetCache) -> bool:
    return cache.evaluate(TENANT, "new-editor", CONTEXT).value is True


def test_a_kill_is_in_force_within_the_check_interval_while_the_store_answers() -> None:
    # Given a container that serves the flag on, checked just now
    clock, store = Clock(), Store()
    cache = FlagSetCache(store, clock=clock)
    assert _served_on(cache)

    # When the flag is killed, and time passes in 100 ms steps
    store.kill_switch = KillSwitch(flags=frozenset({"new-editor"}))
    killed_at = clock.now
    served = []
    while clock.now < killed_at + 2 * KILL_SWITCH_BOUND_SECONDS:
        clock.now += 0.1
        result = cache.evaluate(TENANT, "new-editor", CONTEXT)
        served.append((round(clock.now - killed_at, 1), result.reason, result.value))

    # Then from one check interval (1 s) after the kill, every evaluation serves the off value as DISABLED
    after_bound = [(t, reason, value) for t, reason, value in served if t >= 1.0]
    assert after_bound and all(
        reason is EvaluationReason.DISABLED and value is False for _, reason, value in after_bound
    )
    # and the set was not reloaded for a kill: only recompiled
    assert store.loads == 1


@pytest.mark.parametrize("how", ["tag", "all"])
def test_a_kill_by_tag_or_of_everything_disables_the_flag(how: str) -> None:
    clock, store = Clock(), Store()
    cache = FlagSetCache(store, clock=clock)
    assert _served_on(cache)

    store.kill_switch = KillSwitch(tags=frozenset({"editor"})) if how == "tag" else KillSwitch(all=True)
    clock.now += 1.0

    assert cache.evaluate(TENANT, "new-editor", CONTEXT).reason is EvaluationReason.DISABLED


def test_an_unreachable_store_serves_the_last_good_set_within_the_budget_then_off_values_with_error() -> None:
    # Given a container that has served the flag on
    clock, store = Clock(), Store()
    cache = FlagSetCache(store, clock=clock, check_interval_seconds=1.0, staleness_budget_seconds=4.0)
    assert _served_on(cache)
    last_good = clock.now

    # When the store goes down
    store.down = True

    # Then the last good set serves while it is at most 4 s old
    clock.now = last_good + 3.9
    assert cache.freshness(TENANT) is Freshness.STALE
    assert _served_on(cache)
    # and past the budget, the flag's off value with reason ERROR (FLAG_SET_STALE)
    clock.now = last_good + 4.1
    result = cache.evaluate(TENANT, "new-editor", CONTEXT)
    assert (result.value, result.reason, result.error) == (
        False,
        EvaluationReason.ERROR,
        EvaluationError.FLAG_SET_STALE,
    )
    assert cache.gate(TENANT, CONTEXT)("new-editor") is None

    # And once the store answers again, the set is fresh at once
    store.down = False
    clock.now += 0.1
    assert cache.freshness(TENANT) is Freshness.FRESH
    assert _served_on(cache)


def test_a_new_version_reloads_the_set_and_an_unchanged_one_costs_one_epoch_read_per_interval() -> None:
    clock, store = Clock(), Store()
    cache = FlagSetCache(store, clock=clock)
    for _ in range(50):
        cache.evaluate(TENANT, "new-editor", CONTEXT)
        clock.now += 0.01
    assert (store.epoch_reads, store.loads) == (1, 1)

    store.version = 2
    store.flags["new-editor"] = boolean_flag("new-editor", enabled=False, version=2)
    clock.now += 1.0
    result = cache.evaluate(TENANT, "new-editor", CONTEXT)

    assert (result.reason, result.flag_version, store.loads) == (EvaluationReason.DISABLED, 2, 2)


def test_a_tenant_without_flags_answers_flag_not_found() -> None:
    class Empty(Store):
        def epoch(self, tenant: str) -> FlagEpoch | None:
            return None

    result = FlagSetCache(Empty(), clock=Clock()).evaluate(TENANT, "anything", CONTEXT)

    assert (result.reason, result.error) == (EvaluationReason.ERROR, EvaluationError.FLAG_NOT_FOUND)


def test_settings_that_would_break_the_kill_bound_are_refused() -> None:
    with pytest.raises(ValueError, match="kill bound"):
        FlagSetCache(Store(), check_interval_seconds=2.0, staleness_budget_seconds=3.5)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.tuples(st.floats(0.0, 2.0), st.booleans()), min_size=1, max_size=60),
    kill_step=st.integers(0, 59),
)
# The case that matters most: the store goes down just as the kill is stored, and stays down.
@example(steps=[(0.5, False)] + [(0.7, True)] * 12, kill_step=1)
def test_no_evaluation_serves_a_killed_flag_on_more_than_5_seconds_after_the_kill(
    steps: list[tuple[float, bool]], kill_step: int
) -> None:
    # Given any sequence of evaluations, each after some delay and with the store up or down at that moment
    clock, store = Clock(), Store()
    cache = FlagSetCache(store, clock=clock)
    killed_at: float | None = None
    for index, (delay, store_down) in enumerate(steps):
        clock.now += delay
        if index == kill_step:
            # The kill is stored (the admin's write reached the table even if this container cannot read it)
            store.kill_switch = KillSwitch(flags=frozenset({"new-editor"}))
            killed_at = clock.now
        store.down = store_down
        result = cache.evaluate(TENANT, "new-editor", CONTEXT)

        # Then no evaluation more than 5 s after the kill serves the flag on
        if killed_at is not None and clock.now - killed_at > KILL_SWITCH_BOUND_SECONDS:
            assert result.value is not True, (index, clock.now - killed_at, result)
