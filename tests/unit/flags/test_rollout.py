"""Progressive rollouts, the pure part: what ``decide`` does with an active plan, how ``conversion_reading`` splits
users into the rollout's arms and when it sees a breach, and what the plan models accept.

The property: a plan walked by the job's decisions, with time moving forward and no breach, advances exactly once
per step after the first, never before a step's dwell, never lowers the percentage, and completes on its last step.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from firstmile.flags import logic
from firstmile.flags.models import ROLLOUT_BUCKETS, EvaluationReason, Flag
from firstmile.flags.rollout import (
    MAX_STEPS,
    Action,
    ConversionGuard,
    GuardReading,
    RolloutPlan,
    RolloutPlanRequest,
    RolloutStep,
    conversion_reading,
    decide,
    with_percentage,
)
from firstmile.onboarding.models import Progress
from tests.unit.flags.flagsets import TENANT, boolean_flag, cond, context, flag_set, rule

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
T0 = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
KEY = "new-checkout"
RULE = "beta"
FLOW = "welcome"


# --- test data ---------------------------------------------------------------------------------------------


def rollout_flag(percentage: float = 1.0, *, archived: bool = False, rule_id: str = RULE) -> Flag:
    """The flag a plan rolls out: rule ``beta`` (German users) at ``percentage``, another rule left alone."""
    return boolean_flag(
        KEY,
        rule("staff", cond("plan", "eq", "staff")),
        rule(rule_id, cond("country", "eq", "DE"), percentage=percentage),
        archived=archived,
    )


def plan(
    percentages: tuple[float, ...] = (1, 5, 25, 100),
    *,
    dwell: int = 60,
    step_index: int = 0,
    step_started_at: datetime = T0,
    guard: ConversionGuard | None = None,
    initial: float = 0.0,
) -> RolloutPlan:
    return RolloutPlan(
        rule_id=RULE,
        steps=[RolloutStep(percentage=p, min_dwell_minutes=dwell) for p in percentages],
        guard=guard,
        flag_key=KEY,
        started_at=T0,
        step_started_at=step_started_at,
        updated_at=step_started_at,
        initial_percentage=initial,
        step_index=step_index,
    )


def reading(*, breached: bool, rate_in: float = 40.0, rate_out: float = 80.0) -> GuardReading:
    return GuardReading(
        at=T0,
        users_in=50,
        users_out=50,
        converted_in=round(rate_in / 2),
        converted_out=round(rate_out / 2),
        rate_in=rate_in,
        rate_out=rate_out,
        sufficient=True,
        breached=breached,
    )


def users_where(inside: bool, threshold: int, salt: str = KEY) -> Iterator[str]:
    """User ids whose rollout bucket for ``salt`` is below ``threshold`` (``inside``) or not: known arms."""
    for n in itertools.count():
        user = f"u-{n:06d}"
        if (logic.bucket(salt, user) < threshold) is inside:
            yield user


def progress(user: str, *, completed: bool, enrolled_at: datetime = T0, sample: bool = False) -> Progress:
    return Progress(
        tenant=TENANT,
        user=user,
        flow_id=FLOW,
        flow_version=1,
        enrolled_at=enrolled_at,
        updated_at=enrolled_at,
        completed_at=enrolled_at + timedelta(minutes=5) if completed else None,
        sample=sample,
    )


def arm(inside: bool, users: int, converted: int, *, threshold: int, skip: int = 0) -> list[Progress]:
    """``users`` of one arm, the first ``converted`` of them completed (the first ``skip`` ids of the arm unused)."""
    ids = itertools.islice(users_where(inside, threshold), skip, skip + users)
    return [
        progress(user, completed=n < converted, enrolled_at=T0 + timedelta(minutes=n)) for n, user in enumerate(ids)
    ]


GUARD = ConversionGuard(flow_id=FLOW, max_drop_points=10, min_users_per_arm=10)


# --- decide ------------------------------------------------------------------------------------------------


def test_a_step_is_held_until_its_dwell_has_passed() -> None:
    decision = decide(plan(), rollout_flag(1), None, T0 + timedelta(minutes=59, seconds=59))

    assert decision.action is Action.WAIT
    assert decision.percentage is None


def test_once_the_dwell_has_passed_the_plan_advances_to_the_next_step() -> None:
    # At the dwell exactly, and any time later
    for waited in (timedelta(minutes=60), timedelta(days=3)):
        decision = decide(plan(), rollout_flag(1), None, T0 + waited)

        assert (decision.action, decision.percentage) == (Action.ADVANCE, 5)


def test_a_later_step_advances_after_its_own_dwell_counted_from_when_it_started() -> None:
    # Given the plan on its second step (5%) since T0 + 2 h
    at_five = plan(step_index=1, step_started_at=T0 + timedelta(hours=2))

    # Then an hour after the plan started is not enough; an hour after the step started is
    assert decide(at_five, rollout_flag(5), None, T0 + timedelta(hours=2, minutes=59)).action is Action.WAIT
    decision = decide(at_five, rollout_flag(5), None, T0 + timedelta(hours=3))
    assert (decision.action, decision.percentage) == (Action.ADVANCE, 25)


def test_a_step_without_dwell_advances_at_the_next_check() -> None:
    assert decide(plan(dwell=0), rollout_flag(1), None, T0).action is Action.ADVANCE


def test_the_last_step_held_for_its_dwell_completes_the_plan() -> None:
    last = plan(step_index=3)

    assert decide(last, rollout_flag(100), None, T0 + timedelta(minutes=30)).action is Action.WAIT
    decision = decide(last, rollout_flag(100), None, T0 + timedelta(minutes=60))
    assert (decision.action, decision.percentage) == (Action.COMPLETE, None)


def test_a_single_step_plan_completes_after_its_dwell() -> None:
    single = plan((50,))

    assert decide(single, rollout_flag(50), None, T0 + timedelta(minutes=60)).action is Action.COMPLETE


def test_a_breached_reading_halts_the_plan_at_once_back_to_the_initial_percentage() -> None:
    # Given a plan on its third step that started a minute ago, from a rule that was at 0.5%
    guarded = plan(step_index=2, step_started_at=T0, guard=GUARD, initial=0.5)

    # When the guard reads a breach (the dwell is far from over)
    decision = decide(guarded, rollout_flag(25), reading(breached=True), T0 + timedelta(minutes=1))

    # Then the plan halts, the percentage going back to where it was, and the reason gives both rates
    assert (decision.action, decision.percentage) == (Action.HALT, 0.5)
    assert "40.0%" in decision.reason and "80.0%" in decision.reason


def test_a_breach_halts_even_once_the_dwell_has_passed_and_on_the_last_step() -> None:
    for step_index, percentage in ((0, 1), (3, 100)):
        guarded = plan(step_index=step_index, guard=GUARD)

        decision = decide(guarded, rollout_flag(percentage), reading(breached=True), T0 + timedelta(days=1))

        assert (decision.action, decision.percentage) == (Action.HALT, 0.0)


def test_a_reading_without_breach_lets_the_plan_wait_and_advance_as_usual() -> None:
    guarded = plan(guard=GUARD)
    fine = reading(breached=False, rate_in=79, rate_out=80)

    assert decide(guarded, rollout_flag(1), fine, T0 + timedelta(minutes=1)).action is Action.WAIT
    assert decide(guarded, rollout_flag(1), fine, T0 + timedelta(minutes=60)).action is Action.ADVANCE


@pytest.mark.parametrize(
    ("case", "flag"),
    [
        ("the flag is gone", None),
        ("the flag is archived", rollout_flag(1, archived=True)),
        ("the rule is gone", rollout_flag(1, rule_id="another-rule")),
    ],
)
def test_a_plan_whose_flag_or_rule_is_gone_is_abandoned(case: str, flag: Flag | None) -> None:
    # Even with a breached reading and the dwell over: there is nothing left to move
    for seen in (None, reading(breached=True)):
        for now in (T0, T0 + timedelta(hours=2)):
            decision = decide(plan(guard=GUARD), flag, seen, now)

            assert (decision.action, decision.percentage) == (Action.ABANDON, None), case
            assert RULE in decision.reason


@pytest.mark.parametrize("changed_to", [0.0, 0.999, 3.0, 100.0])
def test_a_plan_whose_rule_percentage_was_changed_outside_it_is_abandoned(changed_to: float) -> None:
    # Given a plan on its first step (1%) whose rule an admin set to another percentage (an edit, a rollback)
    # When the job checks it, dwell over or not, breach or not
    for seen in (None, reading(breached=True)):
        decision = decide(plan(guard=GUARD), rollout_flag(changed_to), seen, T0 + timedelta(hours=2))

        # Then the plan ends without moving the percentage: the admin's choice stands
        assert (decision.action, decision.percentage) == (Action.ABANDON, None)
        assert f"{changed_to:g}%" in decision.reason


def test_with_percentage_changes_only_the_planned_rule() -> None:
    flag = rollout_flag(1)

    moved = with_percentage(flag, RULE, 25)

    assert [(r.id, r.percentage) for r in moved.rules] == [("staff", 100.0), (RULE, 25.0)]
    assert moved.rules[1].conditions == flag.rules[1].conditions
    assert moved.model_dump(exclude={"rules"}) == flag.model_dump(exclude={"rules"})
    assert flag.rules[1].percentage == 1  # the original is untouched


# --- conversion_reading ------------------------------------------------------------------------------------


def test_users_are_split_into_arms_by_their_rollout_bucket_below_the_rule_threshold() -> None:
    # Given a rule at 10% and users whose buckets are known to be below 10,000 (in) or not (out)
    flag = rollout_flag(10)
    users = arm(True, 4, 1, threshold=10_000) + arm(False, 5, 4, threshold=10_000)

    # When the guard reads them
    seen = conversion_reading(GUARD, flag, flag.rules[1], users, T0, T0 + timedelta(hours=1))

    # Then each arm counts its users and completions, with rates in percent
    assert (seen.users_in, seen.converted_in, seen.users_out, seen.converted_out) == (4, 1, 5, 4)
    assert (seen.rate_in, seen.rate_out) == (25.0, 80.0)
    assert seen.at == T0 + timedelta(hours=1)


def test_the_arms_are_the_users_the_rule_serves_and_those_it_does_not() -> None:
    # Given a rule without conditions at 10% that serves on, off otherwise
    flag = boolean_flag(KEY, rule(RULE, percentage=10))
    flags = flag_set(flag)
    users = [progress(f"user-{n}", completed=False) for n in range(300)]

    # When the guard reads 300 users
    seen = conversion_reading(GUARD, flag, flag.rules[0], users, T0, T0)

    # Then its in-arm is exactly the users the evaluator serves through the rule
    served = [u for u in users if logic.evaluate(flags, KEY, context(u.user)).reason is EvaluationReason.SPLIT]
    assert seen.users_in == len(served) > 0
    assert seen.users_out == 300 - len(served)


def test_users_enrolled_before_the_plan_started_are_not_counted() -> None:
    # Given converting users who enrolled before the plan started, and non-converting ones since (at T0 exactly)
    flag = rollout_flag(10)
    before = [
        progress(u.user, completed=True, enrolled_at=T0 - timedelta(seconds=1))
        for u in arm(True, 5, 5, threshold=10_000, skip=100) + arm(False, 5, 5, threshold=10_000, skip=100)
    ]
    since = arm(True, 3, 0, threshold=10_000) + arm(False, 3, 0, threshold=10_000)

    seen = conversion_reading(GUARD, flag, flag.rules[1], before + since, T0, T0 + timedelta(hours=1))

    # Then only the later ones count
    assert (seen.users_in, seen.converted_in, seen.users_out, seen.converted_out) == (3, 0, 3, 0)


def test_sample_users_are_not_counted() -> None:
    flag = rollout_flag(10)
    samples = [
        progress(u.user, completed=True, sample=True)
        for u in arm(True, 20, 20, threshold=10_000, skip=50) + arm(False, 20, 20, threshold=10_000, skip=50)
    ]
    real = arm(True, 2, 1, threshold=10_000) + arm(False, 2, 2, threshold=10_000)

    seen = conversion_reading(GUARD, flag, flag.rules[1], samples + real, T0, T0)

    assert (seen.users_in, seen.converted_in, seen.users_out, seen.converted_out) == (2, 1, 2, 2)


def test_an_empty_arm_has_no_rate_and_is_never_a_breach() -> None:
    flag = rollout_flag(10)

    nobody = conversion_reading(GUARD, flag, flag.rules[1], [], T0, T0)
    only_out = conversion_reading(GUARD, flag, flag.rules[1], arm(False, 30, 30, threshold=10_000), T0, T0)

    assert (nobody.users_in, nobody.users_out, nobody.rate_in, nobody.rate_out) == (0, 0, None, None)
    assert (only_out.rate_in, only_out.rate_out) == (None, 100.0)
    assert not nobody.sufficient and not nobody.breached
    assert not only_out.sufficient and not only_out.breached


@pytest.mark.parametrize(("users_in", "users_out"), [(9, 10), (10, 9), (9, 9)])
def test_too_few_users_in_an_arm_never_breach_however_large_the_drop(users_in: int, users_out: int) -> None:
    # Given no user in the rollout converting, every user out of it converting, one arm below 10 users
    flag = rollout_flag(10)
    users = arm(True, users_in, 0, threshold=10_000) + arm(False, users_out, users_out, threshold=10_000)

    seen = conversion_reading(GUARD, flag, flag.rules[1], users, T0, T0)

    assert (seen.rate_in, seen.rate_out) == (0.0, 100.0)
    assert not seen.sufficient
    assert not seen.breached


@pytest.mark.parametrize(
    ("converted_in", "converted_out", "breached"),
    [
        (4, 6, True),  # 40% against 60%: 20 points
        (5, 6, False),  # 10 points: exactly max_drop_points, not more
        (6, 6, False),  # equal
        (9, 6, False),  # better in the rollout
        (0, 1, False),  # 10 points again
        (0, 2, True),  # 20 points
    ],
)
def test_a_breach_is_the_out_rate_minus_the_in_rate_exceeding_max_drop_points(
    converted_in: int, converted_out: int, breached: bool
) -> None:
    # Given ten users in each arm (the guard's minimum) and a drop of at most 10 points allowed
    flag = rollout_flag(10)
    users = arm(True, 10, converted_in, threshold=10_000) + arm(False, 10, converted_out, threshold=10_000)

    seen = conversion_reading(GUARD, flag, flag.rules[1], users, T0, T0)

    assert seen.sufficient
    assert (seen.rate_in, seen.rate_out) == (10.0 * converted_in, 10.0 * converted_out)
    assert seen.breached is breached


def test_the_arms_follow_the_rules_current_threshold() -> None:
    # Given users whose buckets are between 1,000 and 10,000: out at 1%, in at 10%
    between = [u for u in itertools.islice(users_where(True, 10_000), 200) if logic.bucket(KEY, u) >= 1_000][:5]
    users = [progress(u, completed=False) for u in between]

    at_one = conversion_reading(GUARD, rollout_flag(1), rollout_flag(1).rules[1], users, T0, T0)
    at_ten = conversion_reading(GUARD, rollout_flag(10), rollout_flag(10).rules[1], users, T0, T0)

    assert (at_one.users_in, at_one.users_out) == (0, 5)
    assert (at_ten.users_in, at_ten.users_out) == (5, 0)


def test_a_user_whose_bucket_is_the_threshold_is_out_as_the_evaluator_has_it() -> None:
    # Given u-alice, whose bucket for new-checkout is 63,790 (tests/unit/flags/test_bucketing.py)
    alice = [progress("u-alice", completed=False)]
    assert logic.bucket(KEY, "u-alice") == 63_790

    # Then at 63.790% she is out of the rollout, at 63.791% in
    at = {
        p: conversion_reading(GUARD, rollout_flag(p), rollout_flag(p).rules[1], alice, T0, T0) for p in (63.79, 63.791)
    }
    assert (at[63.79].users_in, at[63.79].users_out) == (0, 1)
    assert (at[63.791].users_in, at[63.791].users_out) == (1, 0)


def test_the_arms_use_the_flags_salt_not_its_key() -> None:
    # Given a flag keyed new-checkout but salted as another flag
    flag = boolean_flag(KEY, rule(RULE, percentage=10), salt="old-checkout")
    salted_in = list(itertools.islice(users_where(True, 10_000, salt="old-checkout"), 5))

    seen = conversion_reading(GUARD, flag, flag.rules[0], [progress(u, completed=False) for u in salted_in], T0, T0)

    assert (seen.users_in, seen.users_out) == (5, 0)


# --- the models --------------------------------------------------------------------------------------------


def request(percentages: list[Any], **extra: Any) -> RolloutPlanRequest:
    return RolloutPlanRequest.model_validate(
        {"rule_id": RULE, "steps": [{"percentage": p, "min_dwell_minutes": 30} for p in percentages], **extra}
    )


@pytest.mark.parametrize("percentages", [[1, 5, 25, 100], [0.001], [0.001, 0.002, 99.999, 100], [12.345, 50]])
def test_increasing_steps_in_thousandths_of_a_percent_are_accepted(percentages: list[float]) -> None:
    assert [s.percentage for s in request(percentages).steps] == percentages


@pytest.mark.parametrize(
    "percentages",
    [
        [5, 1],  # decreasing
        [1, 5, 5, 25],  # a repeated step
        [25, 100, 50],
        [],  # no step
    ],
)
def test_steps_that_do_not_strictly_increase_are_refused(percentages: list[float]) -> None:
    with pytest.raises(ValidationError):
        request(percentages)


@pytest.mark.parametrize("percentage", [0, -1, 100.001, 150, 0.0001, 12.3456, float("nan"), float("inf")])
def test_a_step_outside_0_to_100_or_finer_than_a_thousandth_is_refused(percentage: float) -> None:
    with pytest.raises(ValidationError):
        request([percentage])


def test_steps_dwell_and_guard_are_bounded() -> None:
    with pytest.raises(ValidationError):
        request([i + 1 for i in range(MAX_STEPS + 1)])
    request([i + 1 for i in range(MAX_STEPS)])
    with pytest.raises(ValidationError):
        RolloutStep(percentage=1, min_dwell_minutes=-1)
    with pytest.raises(ValidationError):
        RolloutStep(percentage=1, min_dwell_minutes=30 * 24 * 60 + 1)
    assert RolloutStep(percentage=1).min_dwell_minutes == 60
    for bad in ({"max_drop_points": 0}, {"min_users_per_arm": 0}, {"max_users": 9}, {"flow_id": "Not A Flow"}):
        with pytest.raises(ValidationError):
            ConversionGuard.model_validate({"flow_id": FLOW, **bad})
    with pytest.raises(ValidationError):
        request([1], unknown=True)
    with pytest.raises(ValidationError):
        request([1], rule_id="no spaces")


def test_a_stored_plan_reads_back_as_it_was() -> None:
    stored = plan(guard=GUARD, initial=0.5).model_copy(update={"last_reading": reading(breached=False)})

    again = RolloutPlan.model_validate(stored.model_dump(mode="json"))

    assert again == stored
    assert again.current_step.percentage == 1


# --- the walk, as a property -------------------------------------------------------------------------------

step_percentages = st.lists(st.integers(1, ROLLOUT_BUCKETS), min_size=1, max_size=MAX_STEPS, unique=True).map(
    lambda thousandths: [t / 1000 for t in sorted(thousandths)]
)
dwells = st.integers(0, 180)
# The job's checks: a minute apart usually, sometimes hours (a schedule that was down).
gaps = st.lists(st.integers(0, 300), min_size=1, max_size=50)


@PROPERTY_SETTINGS
@given(percentages=step_percentages, dwell_minutes=st.data(), initial=st.integers(0, 1_000), check_gaps=gaps)
def test_a_plan_walked_without_breach_advances_once_per_step_and_completes(
    percentages: list[float], dwell_minutes: st.DataObject, initial: int, check_gaps: list[int]
) -> None:
    # Given a plan with any increasing steps and dwells, and a flag whose rule is at the first step
    dwell = [dwell_minutes.draw(dwells) for _ in percentages]
    walked = RolloutPlan(
        rule_id=RULE,
        steps=[RolloutStep(percentage=p, min_dwell_minutes=d) for p, d in zip(percentages, dwell, strict=True)],
        flag_key=KEY,
        started_at=T0,
        step_started_at=T0,
        updated_at=T0,
        initial_percentage=initial / 1000,
    )
    flag = rollout_flag(percentages[0])
    now, advances, set_percentages = T0, 0, [percentages[0]]
    fine = reading(breached=False, rate_in=80, rate_out=80)

    # When the job checks it again and again, time moving forward, until it decides to end it
    for gap_index in range(10_000):
        decision = decide(walked, flag, fine if gap_index % 2 else None, now)
        held = now - walked.step_started_at
        if decision.action is Action.ADVANCE:
            # Then it advances only once the step was held for its dwell, to the next step's percentage
            assert held >= timedelta(minutes=walked.current_step.min_dwell_minutes)
            assert decision.percentage == walked.steps[walked.step_index + 1].percentage
            advances += 1
            set_percentages.append(decision.percentage)
            flag = with_percentage(flag, RULE, decision.percentage)
            walked = walked.model_copy(update={"step_index": walked.step_index + 1, "step_started_at": now})
        elif decision.action is Action.WAIT:
            assert held < timedelta(minutes=walked.current_step.min_dwell_minutes)
        else:
            break
        now += timedelta(minutes=check_gaps[gap_index % len(check_gaps)] or 1)

    # Then it completes on its last step, after exactly one advance per further step, never lowering the percentage
    assert decision.action is Action.COMPLETE
    assert walked.step_index == len(percentages) - 1
    assert advances == len(percentages) - 1
    assert set_percentages == percentages
    assert all(a < b for a, b in itertools.pairwise(set_percentages))
    assert flag.rules[1].percentage == percentages[-1]
    assert now - walked.step_started_at >= timedelta(minutes=walked.current_step.min_dwell_minutes)


@PROPERTY_SETTINGS
@given(
    flags_in=st.lists(st.booleans(), max_size=60),
    flags_out=st.lists(st.booleans(), max_size=60),
    minimum=st.integers(1, 40),
    max_drop=st.integers(1, 100),
)
def test_a_reading_breaches_exactly_when_both_arms_are_large_enough_and_the_drop_exceeds_the_limit(
    flags_in: list[bool], flags_out: list[bool], minimum: int, max_drop: int
) -> None:
    # Given users of both arms, converted or not
    guard = ConversionGuard(flow_id=FLOW, max_drop_points=max_drop, min_users_per_arm=minimum)
    flag = rollout_flag(10)
    inside = itertools.islice(users_where(True, 10_000), len(flags_in))
    outside = itertools.islice(users_where(False, 10_000), len(flags_out))
    users = [progress(u, completed=c) for u, c in zip(inside, flags_in, strict=True)]
    users += [progress(u, completed=c) for u, c in zip(outside, flags_out, strict=True)]

    seen = conversion_reading(guard, flag, flag.rules[1], users, T0, T0)

    # Then the counts are the arms', and a breach needs enough users in both and a drop beyond the limit
    assert (seen.users_in, seen.converted_in) == (len(flags_in), sum(flags_in))
    assert (seen.users_out, seen.converted_out) == (len(flags_out), sum(flags_out))
    enough = len(flags_in) >= minimum and len(flags_out) >= minimum
    assert seen.sufficient is enough
    if enough:
        drop = 100 * sum(flags_out) / len(flags_out) - 100 * sum(flags_in) / len(flags_in)
        assert seen.breached is (drop > max_drop)
    else:
        assert not seen.breached
