"""The caller's evaluation context, built without validating again (``EvaluationContext.of_caller``), is the same
value as the validated one and evaluates the same."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from firstmile.flags.logic import evaluate_all, flag_gate
from firstmile.flags.models import EvaluationContext
from tests.unit.flags.flagsets import TENANT, boolean_flag, cond, flag_set, rule

FLAGS = flag_set(
    boolean_flag("pros", rule("pro", cond("plan", "eq", "pro"))),
    boolean_flag("half", rule("rollout", percentage=50.0)),
    boolean_flag("germany", rule("de", cond("country", "in", ["DE", "AT"]))),
    boolean_flag("launch", rule("after", cond("now", "date_after", "2030-01-01T00:00:00Z"))),
)

users = st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=40)
attributes = st.fixed_dictionaries(
    {}, optional={"plan": st.sampled_from(["free", "pro"]), "country": st.sampled_from(["DE", "US", "AT"])}
)
moments = st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))


@given(user=users, attributes=attributes, now=moments)
def test_the_callers_context_equals_the_validated_one_and_evaluates_the_same(
    user: str, attributes: dict[str, str], now: datetime | None
) -> None:
    # Given the same valid caller, once validated and once built as a request's caller
    validated = EvaluationContext(tenant=TENANT, user_id=user, attributes=attributes, now=now)
    built = EvaluationContext.of_caller(TENANT, user, dict(attributes), now)

    # Then they are equal values, with the same fields set and the same dump
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump(mode="json") == validated.model_dump(mode="json")

    # And every flag serves the same, through evaluate_all and through onboarding's gate
    assert evaluate_all(FLAGS, built) == evaluate_all(FLAGS, validated)
    assert [flag_gate(FLAGS, built)(key) for key in FLAGS.flags] == [
        flag_gate(FLAGS, validated)(key) for key in FLAGS.flags
    ]


def test_the_callers_context_is_frozen_like_the_validated_one() -> None:
    # Given a caller's context
    built = EvaluationContext.of_caller(TENANT, "u-alice", {"plan": "pro"}, None)

    # Then it cannot be changed, and its stickiness key is the default (the user id buckets)
    with pytest.raises(ValidationError):
        built.user_id = "u-bob"  # type: ignore[misc]
    assert built.stickiness_key is None
    assert built.model_copy(update={"user_id": "u-bob"}).user_id == "u-bob"
