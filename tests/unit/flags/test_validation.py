"""Whole-flag-set validation: prerequisite cycles, chains nested too deep, references to what does not exist."""

from __future__ import annotations

import pytest

from firstmile.errors import DomainError
from firstmile.flags import logic
from firstmile.flags.models import MAX_PREREQUISITE_DEPTH, EvaluationError, EvaluationReason, Flag, FlagSet
from tests.unit.flags.flagsets import ON, boolean_flag, cond, context, flag_set, rule, segment, variants_flag


def refusal(flags: FlagSet) -> DomainError:
    with pytest.raises(DomainError) as caught:
        logic.validate_flag_set(flags)
    assert caught.value.code.startswith("VAL_")
    return caught.value


def requiring(key: str, *required: str) -> Flag:
    return boolean_flag(key, fallthrough=ON, requires=dict.fromkeys(required, "on"))


def test_a_chain_of_prerequisites_is_accepted() -> None:
    flags = flag_set(requiring("a", "b"), requiring("b", "c"), requiring("c"), requiring("d", "b", "c"))

    logic.validate_flag_set(flags)

    assert logic.prerequisite_cycle(flags.flags) is None


@pytest.mark.parametrize(
    ("flags", "cycle"),
    [
        ((requiring("a", "a"),), ["a", "a"]),
        ((requiring("a", "b"), requiring("b", "a")), ["a", "b", "a"]),
        ((requiring("a", "b"), requiring("b", "c"), requiring("c", "a")), ["a", "b", "c", "a"]),
        ((requiring("x", "a"), requiring("a", "b"), requiring("b", "c"), requiring("c", "b")), ["b", "c", "b"]),
    ],
    ids=["self", "two", "three", "behind-a-chain"],
)
def test_a_prerequisite_cycle_is_refused(flags: tuple[Flag, ...], cycle: list[str]) -> None:
    problem = refusal(flag_set(*flags))

    assert problem.code == "VAL_FLAG_PREREQUISITE_CYCLE"
    assert problem.extensions["cycle"] == cycle
    assert " -> ".join(cycle) in problem.detail


def test_a_chain_deeper_than_the_limit_is_refused() -> None:
    # Given f0 requires f1 requires ... f(n)
    def chain(length: int) -> FlagSet:
        return flag_set(*(requiring(f"f{i}", f"f{i + 1}") for i in range(length)), requiring(f"f{length}"))

    logic.validate_flag_set(chain(MAX_PREREQUISITE_DEPTH))
    problem = refusal(chain(MAX_PREREQUISITE_DEPTH + 1))

    assert problem.code == "VAL_FLAG_PREREQUISITE_DEPTH"
    assert "f0" in problem.detail
    # And the evaluator answers such a flag with an error rather than recursing
    result = logic.evaluate_all(chain(MAX_PREREQUISITE_DEPTH + 1), context())["f0"]
    assert (result.reason, result.error) == (EvaluationReason.ERROR, EvaluationError.INVALID_CONFIGURATION)


def test_missing_references_are_refused_with_one_problem_each() -> None:
    flags = flag_set(
        requiring("a", "ghost"),
        boolean_flag("b", fallthrough=ON, requires={"colour": "purple"}),
        variants_flag("colour", {"red": (1, 1), "blue": (2, 1)}, off="red"),
        boolean_flag("c", rule("r", cond("segment", "in", ["staff", "nobody"]))),
        segments=(segment("staff", users=("u-alice",)),),
    )

    problem = refusal(flags)

    assert problem.code == "VAL_FLAG_REFERENCE_INVALID"
    assert problem.fields
    assert [(e.location, e.type) for e in problem.fields] == [
        ("flags.a.prerequisites[0]", "missing_flag"),
        ("flags.b.prerequisites[0]", "missing_variant"),
        ("flags.c.rules[0].conditions[0]", "missing_segment"),
    ]
