"""Evaluation: which reason each path gives, prerequisites, the kill switch, errors, evaluate_all and the gate."""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from firstmile.flags import logic
from firstmile.flags.models import (
    EvaluationContext,
    EvaluationError,
    EvaluationReason,
    EvaluationResult,
    FlagSet,
    KillSwitch,
    Serve,
)
from firstmile.onboarding.logic import visible_steps
from firstmile.onboarding.models import FlowDefinition, StepDefinition
from tests.unit.flags.flagsets import (
    OFF,
    ON,
    boolean_flag,
    cond,
    context,
    flag_set,
    rule,
    segment,
    variants_flag,
)

STATIC, DEFAULT, MATCH, SPLIT = (
    EvaluationReason.STATIC,
    EvaluationReason.DEFAULT,
    EvaluationReason.TARGETING_MATCH,
    EvaluationReason.SPLIT,
)
DISABLED, ERROR = EvaluationReason.DISABLED, EvaluationReason.ERROR
COLOURS = {"control": ("#000", 1), "blue": ("#00f", 1), "green": ("#0f0", 2)}


def summary(result: EvaluationResult) -> tuple[object, str | None, EvaluationReason, str | None]:
    return result.value, result.variant, result.reason, result.rule_id


# --- reasons -----------------------------------------------------------------------------------------------------


def test_a_disabled_flag_serves_its_off_value() -> None:
    flags = flag_set(boolean_flag("beta", rule("all"), enabled=False, fallthrough=ON))

    assert summary(logic.evaluate(flags, "beta", context())) == (False, "off", DISABLED, None)


def test_an_archived_flag_serves_its_off_value() -> None:
    flags = flag_set(boolean_flag("beta", fallthrough=ON, archived=True))

    assert summary(logic.evaluate(flags, "beta", context())) == (False, "off", DISABLED, None)


def test_an_enabled_flag_without_rules_is_static() -> None:
    flags = flag_set(boolean_flag("beta", fallthrough=ON, version=4), boolean_flag("quiet"))

    result = logic.evaluate(flags, "beta", context())

    assert summary(result) == (True, "on", STATIC, None)
    assert result.flag_version == 4
    # Without a fallthrough it serves the off value to everyone, still static
    assert summary(logic.evaluate(flags, "quiet", context())) == (False, "off", STATIC, None)


def test_a_matching_rule_is_a_targeting_match_and_the_first_match_wins() -> None:
    flags = flag_set(
        boolean_flag(
            "beta",
            rule("blocked", cond("country", "eq", "KP"), serve=OFF),
            rule("germany", cond("country", "eq", "DE")),
            rule("pros", cond("plan", "eq", "pro")),
            fallthrough=OFF,
            version=3,
        )
    )

    assert summary(logic.evaluate(flags, "beta", context(country="DE", plan="pro"))) == (True, "on", MATCH, "germany")
    assert summary(logic.evaluate(flags, "beta", context(country="KP", plan="pro"))) == (False, "off", MATCH, "blocked")
    assert summary(logic.evaluate(flags, "beta", context(country="US", plan="pro"))) == (True, "on", MATCH, "pros")
    result = logic.evaluate(flags, "beta", context(country="US", plan="free"))
    assert summary(result) == (False, "off", DEFAULT, None)
    assert result.flag_version == 3


def test_a_partial_rollout_is_a_split_and_users_outside_it_fall_through() -> None:
    # Given a 20% rollout to Germany, then everyone in Germany gets "on" from the next rule... served off
    flags = flag_set(
        boolean_flag(
            "beta",
            rule("rollout", cond("country", "eq", "DE"), percentage=20),
            rule("rest-of-germany", cond("country", "eq", "DE"), serve=OFF),
        )
    )
    users = [f"user-{i}" for i in range(400)]

    results = [logic.evaluate(flags, "beta", context(u, country="DE")) for u in users]

    # Then exactly the users whose bucket is under 20,000 are served by the rollout rule, as SPLIT
    inside = [u for u in users if logic.bucket("beta", u) < 20_000]
    served = [u for u, r in zip(users, results, strict=True) if summary(r) == (True, "on", SPLIT, "rollout")]
    assert served == inside and 0 < len(inside) < len(users)
    # And the others reach the next rule
    assert all(
        summary(r) == (False, "off", MATCH, "rest-of-germany")
        for u, r in zip(users, results, strict=True)
        if u not in inside
    )


def test_zero_and_full_percentages() -> None:
    flags = flag_set(
        boolean_flag("nobody", rule("r", percentage=0)), boolean_flag("everybody", rule("r", percentage=100))
    )

    for user in (f"user-{i}" for i in range(50)):
        assert logic.evaluate(flags, "nobody", context(user)).reason is DEFAULT
        assert logic.evaluate(flags, "everybody", context(user)).reason is MATCH


def test_a_split_serves_variants_by_weight() -> None:
    # Given a variants flag: its rule serves its own split, its fallthrough the flag's weights
    flag = variants_flag(
        "colour",
        COLOURS,
        rule("pros", cond("plan", "eq", "pro"), serve=Serve(weights={"blue": 1, "green": 1})),
        off="control",
        fallthrough=Serve(split=True),
    )
    flags = flag_set(flag)
    users = [f"user-{i}" for i in range(4_000)]

    pros = [logic.evaluate(flags, "colour", context(u, plan="pro")) for u in users]
    others = [logic.evaluate(flags, "colour", context(u, plan="free")) for u in users]

    # Then every answer is a SPLIT naming its rule (none for the fallthrough) with the variant's value
    assert {(r.reason, r.rule_id) for r in pros} == {(SPLIT, "pros")}
    assert {(r.reason, r.rule_id) for r in others} == {(SPLIT, None)}
    assert all(r.value == COLOURS[str(r.variant)][0] for r in pros + others)
    # And the shares follow the weights (1:1 over blue and green; 1:1:2 for the flag's split)
    assert abs(sum(r.variant == "blue" for r in pros) - 2_000) < 200
    assert sum(r.variant == "control" for r in pros) == 0
    shares = {v: sum(r.variant == v for r in others) for v in COLOURS}
    assert abs(shares["control"] - 1_000) < 150 and abs(shares["blue"] - 1_000) < 150
    assert abs(shares["green"] - 2_000) < 200


def test_a_variant_serve_and_the_off_variant() -> None:
    flags = flag_set(
        variants_flag(
            "colour", COLOURS, rule("pros", cond("plan", "eq", "pro"), serve=Serve(variant="green")), off="control"
        ),
        variants_flag("dark", COLOURS, off="blue", enabled=False),
    )

    assert summary(logic.evaluate(flags, "colour", context(plan="pro"))) == ("#0f0", "green", MATCH, "pros")
    assert summary(logic.evaluate(flags, "colour", context(plan="free"))) == ("#000", "control", DEFAULT, None)
    assert summary(logic.evaluate(flags, "dark", context())) == ("#00f", "blue", DISABLED, None)


def test_a_boolean_split_by_weights() -> None:
    flags = flag_set(boolean_flag("coin", fallthrough=Serve(weights={"on": 1, "off": 3})))

    results = [logic.evaluate(flags, "coin", context(f"user-{i}")) for i in range(4_000)]

    assert {r.reason for r in results} == {SPLIT}
    assert abs(sum(r.value is True for r in results) - 1_000) < 150


# --- errors --------------------------------------------------------------------------------------------------------


def test_an_unknown_flag_is_an_error_without_a_value() -> None:
    result = logic.evaluate(flag_set(), "nope", context())

    assert summary(result) == (None, None, ERROR, None)
    assert result.error is EvaluationError.FLAG_NOT_FOUND


def test_a_flag_that_cannot_be_compiled_serves_its_off_value_with_an_error() -> None:
    # Given flags referring to a missing segment, a missing flag, and each other in a cycle (never validated)
    flags = flag_set(
        boolean_flag("segmented", rule("r", cond("segment", "in", ["missing"]))),
        boolean_flag("orphan", fallthrough=ON, requires={"missing": "on"}),
        boolean_flag("wrong-variant", fallthrough=ON, requires={"segmented": "purple"}),
        boolean_flag("chicken", fallthrough=ON, requires={"egg": "on"}),
        boolean_flag("egg", fallthrough=ON, requires={"chicken": "on"}),
        boolean_flag("fine", fallthrough=ON),
    )

    results = logic.evaluate_all(flags, context())

    for key in ("segmented", "orphan", "wrong-variant", "chicken", "egg"):
        assert summary(results[key]) == (False, "off", ERROR, None), key
        assert results[key].error is EvaluationError.INVALID_CONFIGURATION
    assert results["fine"].value is True


def test_evaluation_never_raises_on_odd_contexts() -> None:
    # Given contexts built without validation: nested objects, nested lists, a lone surrogate
    flags = flag_set(boolean_flag("beta", rule("r", cond("plan", "eq", "pro")), rule("half", percentage=50)))

    odd_contexts: list[tuple[str, dict[str, JsonValue]]] = [
        ("u-alice", {"plan": {"deep": [1, {"x": None}]}}),
        ("u-alice", {"plan": [[]]}),
        ("\ud800", {"plan": "\ud800"}),
    ]
    for user, attributes in odd_contexts:
        odd = EvaluationContext.model_construct(tenant="t-acme", user_id=user, attributes=attributes)
        # Then every evaluation answers
        assert logic.evaluate(flags, "beta", odd).value in (True, False)


# --- prerequisites -------------------------------------------------------------------------------------------------


def chain(c_enabled: bool = True, c_serves: Serve = ON) -> FlagSet:
    """a requires b requires c."""
    return flag_set(
        boolean_flag("a", fallthrough=ON, requires={"b": "on"}),
        boolean_flag("b", rule("pros", cond("plan", "eq", "pro")), requires={"c": "on"}),
        boolean_flag("c", enabled=c_enabled, fallthrough=c_serves),
    )


def test_a_prerequisite_chain_that_holds() -> None:
    results = logic.evaluate_all(chain(), context(plan="pro"))

    assert summary(results["c"]) == (True, "on", STATIC, None)
    assert summary(results["b"]) == (True, "on", MATCH, "pros")
    # a has no rules: with its prerequisites met it serves its fallthrough
    assert summary(results["a"]) == (True, "on", STATIC, None)


@pytest.mark.parametrize(
    ("flags", "plan"),
    [(chain(), "free"), (chain(c_enabled=False), "pro"), (chain(c_serves=OFF), "pro")],
    ids=["b-serves-off", "c-disabled", "c-serves-off"],
)
def test_a_failing_prerequisite_serves_the_off_value_as_default(flags: FlagSet, plan: str) -> None:
    results = logic.evaluate_all(flags, context(plan=plan))

    assert summary(results["a"]) == (False, "off", DEFAULT, None)
    assert results["a"].error is None


def test_a_killed_prerequisite_turns_its_dependents_off() -> None:
    compiled = logic.compile_flag_set(chain()).with_kill_switch(KillSwitch(flags=frozenset({"c"})))

    results = logic.evaluate_all(compiled, context(plan="pro"))

    assert results["c"].reason is DISABLED
    assert summary(results["b"]) == summary(results["a"]) == (False, "off", DEFAULT, None)


def test_a_prerequisite_on_a_variant() -> None:
    flags = flag_set(
        variants_flag(
            "colour", COLOURS, rule("pros", cond("plan", "eq", "pro"), serve=Serve(variant="green")), off="control"
        ),
        boolean_flag("green-extras", fallthrough=ON, requires={"colour": "green"}),
    )

    assert logic.evaluate(flags, "green-extras", context(plan="pro")).value is True
    assert logic.evaluate(flags, "green-extras", context(plan="free")).reason is DEFAULT


def test_a_prerequisite_that_errs_makes_its_dependent_err() -> None:
    flags = flag_set(
        boolean_flag("a", fallthrough=ON, requires={"b": "on"}),
        boolean_flag("b", rule("r", cond("plan", "eq", "pro"))),
    )

    result = logic.evaluate(flags, "a", context(plan={"not": "a plan"}))

    assert summary(result) == (False, "off", ERROR, None)
    assert result.error is EvaluationError.PREREQUISITE_ERROR


# --- the kill switch -----------------------------------------------------------------------------------------------


def killable() -> FlagSet:
    return flag_set(
        boolean_flag("checkout", fallthrough=ON, tags=("payments",)),
        boolean_flag("invoices", rule("all"), tags=("payments", "billing")),
        variants_flag("colour", COLOURS, off="control", fallthrough=Serve(variant="green")),
        boolean_flag("search", fallthrough=ON),
    )


@pytest.mark.parametrize(
    ("kill", "killed"),
    [
        (KillSwitch(flags=frozenset({"checkout"})), {"checkout"}),
        (KillSwitch(tags=frozenset({"payments"})), {"checkout", "invoices"}),
        (KillSwitch(tags=frozenset({"billing"}), flags=frozenset({"colour", "unknown"})), {"invoices", "colour"}),
        (KillSwitch(all=True), {"checkout", "invoices", "colour", "search"}),
        (KillSwitch(), set()),
    ],
    ids=["by-key", "by-tag", "tag-and-key", "all", "none"],
)
def test_the_kill_switch_serves_off_values_as_disabled(kill: KillSwitch, killed: set[str]) -> None:
    # Given the same flags under a kill-switch state, in the flag set and swapped into a compiled set
    in_set = killable().model_copy(update={"kill_switch": kill})
    swapped = logic.compile_flag_set(killable()).with_kill_switch(kill)

    for flags in (in_set, swapped):
        results = logic.evaluate_all(flags, context())
        # Then exactly the killed flags serve their off value with reason DISABLED
        assert {k for k, r in results.items() if r.reason is DISABLED} == killed
        for key in killed:
            assert results[key].variant == ("control" if key == "colour" else "off")
        assert all(r.value is True or r.variant == "green" for k, r in results.items() if k not in killed)


def test_lifting_the_kill_switch_restores_the_flags() -> None:
    compiled = logic.compile_flag_set(killable())

    killed = compiled.with_kill_switch(KillSwitch(all=True))
    lifted = killed.with_kill_switch(KillSwitch())

    assert logic.evaluate(killed, "search", context()).reason is DISABLED
    assert logic.evaluate(lifted, "search", context()).value is True


# --- evaluate_all and flag sets as models -------------------------------------------------------------------------


def test_evaluate_all_answers_every_live_flag_or_the_named_ones() -> None:
    flags = flag_set(
        boolean_flag("a", fallthrough=ON, requires={"b": "on"}),
        boolean_flag("b", fallthrough=ON),
        boolean_flag("old", fallthrough=ON, archived=True),
    )

    assert set(logic.evaluate_all(flags, context())) == {"a", "b"}
    named = logic.evaluate_all(flags, context(), keys=["a", "old", "nope"])
    assert set(named) == {"a", "old", "nope"}
    assert (named["a"].value, named["old"].reason, named["nope"].error) == (
        True,
        DISABLED,
        EvaluationError.FLAG_NOT_FOUND,
    )


def test_a_flag_set_model_and_its_compiled_form_answer_alike() -> None:
    flags = flag_set(
        boolean_flag("beta", rule("half", percentage=50)),
        variants_flag("colour", COLOURS, off="control", fallthrough=Serve(split=True)),
        segments=(segment("staff", users=("u-alice",)),),
    )
    compiled = logic.compile_flag_set(flags)

    for user in (f"user-{i}" for i in range(200)):
        assert logic.evaluate_all(flags, context(user)) == logic.evaluate_all(compiled, context(user))
    assert (compiled.tenant, compiled.version, compiled.keys) == ("t-acme", 7, ("beta", "colour"))


# --- the onboarding gate -------------------------------------------------------------------------------------------


def gate_flags() -> FlagSet:
    return flag_set(
        boolean_flag("on-for-pros", rule("pros", cond("plan", "eq", "pro"))),
        boolean_flag("broken", rule("r", cond("plan", "eq", "pro")), requires={"missing": "on"}),
        variants_flag("colour", COLOURS, off="control", fallthrough=Serve(variant="green")),
        variants_flag("colour-off", COLOURS, off="control", enabled=False),
        kill_switch=KillSwitch(flags=frozenset({"killed"})),
    ).model_copy()


def test_the_gate_reads_results_as_on_off_or_unknown() -> None:
    results = logic.evaluate_all(
        gate_flags(), context(plan="pro"), keys=["on-for-pros", "broken", "colour", "colour-off", "nope"]
    )
    gate = logic.gate_from_results(results)

    assert gate("on-for-pros") is True
    assert gate("broken") is None
    assert gate("colour") is None
    assert gate("colour-off") is False
    assert gate("nope") is False  # a flag the tenant does not have is off, not unknown
    assert gate("never-evaluated") is None
    assert logic.gate_from_results(logic.evaluate_all(gate_flags(), context(plan="free")))("on-for-pros") is False


def test_the_lazy_gate_evaluates_each_flag_once_per_user() -> None:
    gate = logic.flag_gate(gate_flags(), context(plan="pro"))

    assert gate("on-for-pros") is True
    assert gate("on-for-pros") is True
    assert gate("nope") is False


def test_the_gate_drives_onboarding_step_visibility() -> None:
    # Given a flow with a step gated on a flag that is on for pros, one on a broken flag
    flow = FlowDefinition(
        name="Getting started",
        steps=[
            StepDefinition(id="welcome", title="Welcome", order=0),
            StepDefinition(id="team", title="Invite your team", order=1, gating_flag="on-for-pros"),
            StepDefinition(id="broken", title="Broken", order=2, gating_flag="broken"),
        ],
    )

    shown, hidden = visible_steps(flow, logic.flag_gate(gate_flags(), context(plan="pro")))
    assert [s.id for s in shown] == ["welcome", "team"]
    assert [(h.id, h.reason) for h in hidden] == [("broken", "flag_evaluation_unavailable")]

    shown, hidden = visible_steps(flow, logic.flag_gate(gate_flags(), context(plan="free")))
    assert [s.id for s in shown] == ["welcome"]
    assert [(h.id, h.reason) for h in hidden] == [("team", "flag_off"), ("broken", "flag_evaluation_unavailable")]
