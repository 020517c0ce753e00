"""Every condition operator through the evaluator: what matches, what does not, and what is an error.

A condition is tested as the only condition of a flag's only rule: TARGETING_MATCH means it held, DEFAULT that it
did not, ERROR that the attribute had a type no operator takes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firstmile.flags import logic
from firstmile.flags.models import (
    MAX_REGEX_SUBJECT,
    Condition,
    EvaluationContext,
    EvaluationError,
    EvaluationReason,
    semver_key,
)
from tests.unit.flags.flagsets import TENANT, boolean_flag, cond, context, flag_set, rule, segment

MATCH, NO_MATCH, ERROR = "match", "no match", "error"
_OUTCOMES = {
    EvaluationReason.TARGETING_MATCH: MATCH,
    EvaluationReason.DEFAULT: NO_MATCH,
    EvaluationReason.ERROR: ERROR,
}


def outcome(condition: Condition, user: str = "u-alice", now: datetime | None = None, **attributes: Any) -> str:
    flags = flag_set(boolean_flag("gated", rule("only", condition)))
    result = logic.evaluate(flags, "gated", context(user, now=now, **attributes))
    return _OUTCOMES[result.reason]


CASES: list[tuple[str, Condition, dict[str, Any], str]] = [
    # eq / neq: exact, typed
    ("eq string", cond("plan", "eq", "pro"), {"plan": "pro"}, MATCH),
    ("eq is case-sensitive", cond("plan", "eq", "pro"), {"plan": "Pro"}, NO_MATCH),
    ("eq string vs number", cond("plan", "eq", "1"), {"plan": 1}, NO_MATCH),
    ("eq number", cond("seats", "eq", 10), {"seats": 10}, MATCH),
    ("eq int equals float", cond("seats", "eq", 10), {"seats": 10.0}, MATCH),
    ("eq number is not a boolean", cond("seats", "eq", 1), {"seats": True}, NO_MATCH),
    ("eq boolean", cond("beta", "eq", True), {"beta": True}, MATCH),
    ("eq boolean is not a number", cond("beta", "eq", True), {"beta": 1}, NO_MATCH),
    ("eq missing attribute", cond("plan", "eq", "pro"), {}, NO_MATCH),
    ("eq null attribute", cond("plan", "eq", "pro"), {"plan": None}, NO_MATCH),
    ("eq any element of a list", cond("roles", "eq", "admin"), {"roles": ["viewer", "admin"]}, MATCH),
    ("neq other value", cond("plan", "neq", "pro"), {"plan": "free"}, MATCH),
    ("neq same value", cond("plan", "neq", "pro"), {"plan": "pro"}, NO_MATCH),
    ("neq missing attribute never matches", cond("plan", "neq", "pro"), {}, NO_MATCH),
    ("neq no element of a list", cond("roles", "neq", "admin"), {"roles": ["viewer"]}, MATCH),
    ("neq an element of a list", cond("roles", "neq", "admin"), {"roles": ["viewer", "admin"]}, NO_MATCH),
    # in / not_in (market, country, locale, plan, user id lists)
    ("in", cond("country", "in", ["DE", "FR"]), {"country": "FR"}, MATCH),
    ("in other", cond("country", "in", ["DE", "FR"]), {"country": "US"}, NO_MATCH),
    ("in numbers", cond("tier", "in", [1, 2]), {"tier": 2.0}, MATCH),
    ("in numbers is not a boolean", cond("tier", "in", [1, 2]), {"tier": True}, NO_MATCH),
    ("in booleans", cond("beta", "in", [True]), {"beta": True}, MATCH),
    ("in booleans is not a number", cond("beta", "in", [True, "x"]), {"beta": 1}, NO_MATCH),
    ("in a list attribute", cond("markets", "in", ["DE"]), {"markets": ["US", "DE"]}, MATCH),
    ("in missing", cond("country", "in", ["DE"]), {}, NO_MATCH),
    ("not_in", cond("country", "not_in", ["DE", "FR"]), {"country": "US"}, MATCH),
    ("not_in listed", cond("country", "not_in", ["DE", "FR"]), {"country": "DE"}, NO_MATCH),
    ("not_in missing never matches", cond("country", "not_in", ["DE"]), {}, NO_MATCH),
    # contains / starts_with
    ("contains", cond("email", "contains", "@acme."), {"email": "bob@acme.io"}, MATCH),
    ("contains not", cond("email", "contains", "@acme."), {"email": "bob@example.io"}, NO_MATCH),
    ("contains on a number", cond("email", "contains", "1"), {"email": 12}, NO_MATCH),
    ("starts_with", cond("locale", "starts_with", "de"), {"locale": "de-AT"}, MATCH),
    ("starts_with not", cond("locale", "starts_with", "de"), {"locale": "en-DE"}, NO_MATCH),
    ("starts_with on a boolean", cond("locale", "starts_with", "t"), {"locale": True}, NO_MATCH),
    # regex (searched, not anchored unless the pattern is)
    ("regex", cond("email", "regex", r"@acme\.(com|io)$"), {"email": "bob@acme.io"}, MATCH),
    ("regex not", cond("email", "regex", r"@acme\.(com|io)$"), {"email": "bob@acme.io.evil"}, NO_MATCH),
    ("regex searches", cond("email", "regex", r"acme"), {"email": "bob@acme.io"}, MATCH),
    ("regex on a number", cond("build", "regex", r"^\d+$"), {"build": 123}, NO_MATCH),
    ("regex subject at the bound", cond("note", "regex", r"x$"), {"note": "a" * (MAX_REGEX_SUBJECT - 1) + "x"}, MATCH),
    ("regex subject over the bound", cond("note", "regex", r"x$"), {"note": "a" * MAX_REGEX_SUBJECT + "x"}, NO_MATCH),
    # numbers
    ("lt", cond("seats", "lt", 10), {"seats": 9}, MATCH),
    ("lt equal", cond("seats", "lt", 10), {"seats": 10}, NO_MATCH),
    ("lte equal", cond("seats", "lte", 10), {"seats": 10}, MATCH),
    ("lte above", cond("seats", "lte", 10), {"seats": 10.5}, NO_MATCH),
    ("gt", cond("seats", "gt", 10), {"seats": 11}, MATCH),
    ("gt equal", cond("seats", "gt", 10), {"seats": 10}, NO_MATCH),
    ("gte equal", cond("seats", "gte", 10.5), {"seats": 10.5}, MATCH),
    ("gte below", cond("seats", "gte", 10.5), {"seats": 10}, NO_MATCH),
    ("numeric string", cond("seats", "gt", 10), {"seats": "12"}, MATCH),
    ("non-numeric string", cond("seats", "gt", 10), {"seats": "twelve"}, NO_MATCH),
    ("nan string", cond("seats", "gt", 10), {"seats": "nan"}, NO_MATCH),
    ("boolean is not a number", cond("seats", "gte", 0), {"seats": True}, NO_MATCH),
    ("big integers compare exactly", cond("id", "gt", 2**53), {"id": 2**53 + 1}, MATCH),
    # semantic versions
    ("semver_gte", cond("app_version", "semver_gte", "2.3.0"), {"app_version": "2.10.0"}, MATCH),
    ("semver numeric not lexical", cond("app_version", "semver_lt", "2.10.0"), {"app_version": "2.9.0"}, MATCH),
    ("semver_gt equal", cond("app_version", "semver_gt", "2.3.0"), {"app_version": "2.3.0"}, NO_MATCH),
    ("semver_lte equal", cond("app_version", "semver_lte", "2.3.0"), {"app_version": "2.3.0"}, MATCH),
    (
        "semver pre-release before release",
        cond("app_version", "semver_lt", "3.0.0"),
        {"app_version": "3.0.0-rc.1"},
        MATCH,
    ),
    (
        "semver pre-release order",
        cond("app_version", "semver_lt", "3.0.0-beta.11"),
        {"app_version": "3.0.0-beta.2"},
        MATCH,
    ),
    ("semver numeric before alpha", cond("app_version", "semver_lt", "1.0.0-alpha"), {"app_version": "1.0.0-1"}, MATCH),
    ("semver_eq short and v", cond("app_version", "semver_eq", "2.3.0"), {"app_version": "v2.3"}, MATCH),
    ("semver_eq ignores build", cond("app_version", "semver_eq", "2.3.0"), {"app_version": "2.3.0+build.7"}, MATCH),
    ("semver garbage", cond("app_version", "semver_gte", "1.0.0"), {"app_version": "latest"}, NO_MATCH),
    ("semver number", cond("app_version", "semver_gte", "1.0.0"), {"app_version": 2}, NO_MATCH),
    ("semver too long", cond("app_version", "semver_gte", "1.0.0"), {"app_version": "2.0.0-" + "a" * 80}, NO_MATCH),
    # dates
    ("date_after", cond("signed_up", "date_after", "2025-01-01"), {"signed_up": "2025-03-01T10:00:00Z"}, MATCH),
    ("date_after earlier", cond("signed_up", "date_after", "2025-01-01"), {"signed_up": "2024-12-31"}, NO_MATCH),
    (
        "date_before",
        cond("signed_up", "date_before", "2025-01-01T00:00:00+00:00"),
        {"signed_up": "2024-12-31T23:59:59Z"},
        MATCH,
    ),
    (
        "date with offset",
        cond("signed_up", "date_before", "2025-01-01T00:00:00Z"),
        {"signed_up": "2025-01-01T00:30:00+01:00"},
        MATCH,
    ),
    (
        "date without offset is UTC",
        cond("signed_up", "date_after", "2025-01-01T00:00:00Z"),
        {"signed_up": "2025-01-01T00:00:01"},
        MATCH,
    ),
    ("date as epoch seconds", cond("signed_up", "date_after", "2025-01-01"), {"signed_up": 1_767_225_600}, MATCH),
    ("date garbage", cond("signed_up", "date_after", "2025-01-01"), {"signed_up": "yesterday"}, NO_MATCH),
    ("date boolean", cond("signed_up", "date_after", "1970-01-01"), {"signed_up": True}, NO_MATCH),
    # attributes of a type no operator takes
    ("object attribute", cond("plan", "eq", "pro"), {"plan": {"name": "pro"}}, ERROR),
    ("nested list attribute", cond("plan", "in", ["pro"]), {"plan": [["pro"]]}, ERROR),
    ("object in a list, negated", cond("plan", "neq", "pro"), {"plan": [{"name": "pro"}]}, ERROR),
]


@pytest.mark.parametrize(("condition", "attributes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_operator(condition: Condition, attributes: dict[str, Any], expected: str) -> None:
    assert outcome(condition, **attributes) == expected


def test_an_attribute_type_error_serves_the_off_value_with_its_error() -> None:
    flags = flag_set(boolean_flag("gated", rule("only", cond("plan", "eq", "pro")), fallthrough=None))

    result = logic.evaluate(flags, "gated", context(plan={"name": "pro"}))

    assert (result.value, result.variant, result.reason) == (False, "off", EvaluationReason.ERROR)
    assert result.error is EvaluationError.ATTRIBUTE_TYPE_MISMATCH


def test_user_id_lists_match_the_token_user_not_a_client_attribute() -> None:
    listed = cond("user_id", "in", ["u-alice", "u-bob"])

    assert outcome(listed, user="u-alice") == MATCH
    assert outcome(listed, user="u-carol") == NO_MATCH
    # A client-supplied attribute named user_id does not override the context's user
    assert outcome(listed, user="u-carol", user_id="u-alice") == NO_MATCH


def test_tenant_is_an_attribute() -> None:
    assert outcome(cond("tenant", "eq", "t-acme")) == MATCH


def test_now_is_the_context_time() -> None:
    launch = cond("now", "date_after", "2027-01-01T00:00:00Z")

    assert outcome(launch, now=datetime(2027, 1, 2, tzinfo=UTC)) == MATCH
    assert outcome(launch, now=datetime(2026, 12, 31, tzinfo=UTC)) == NO_MATCH
    # Without a time in the context a condition on now never matches, and a client cannot supply one
    assert outcome(launch) == NO_MATCH
    spoofed = EvaluationContext(tenant=TENANT, user_id="u-alice", attributes={"now": "2030-01-01"})
    assert logic.evaluate(flag_set(boolean_flag("gated", rule("only", launch))), "gated", spoofed).value is False


def test_all_conditions_of_a_rule_must_hold() -> None:
    flags = flag_set(
        boolean_flag("gated", rule("both", cond("country", "eq", "DE"), cond("plan", "in", ["pro", "team"])))
    )

    assert logic.evaluate(flags, "gated", context(country="DE", plan="pro")).value is True
    assert logic.evaluate(flags, "gated", context(country="DE", plan="free")).value is False
    assert logic.evaluate(flags, "gated", context(country="US", plan="pro")).value is False


def test_a_rule_without_conditions_serves_everyone() -> None:
    flags = flag_set(boolean_flag("gated", rule("everyone")))

    assert logic.evaluate(flags, "gated", context()).reason is EvaluationReason.TARGETING_MATCH


# --- segments --------------------------------------------------------------------------------------------------


def segment_outcome(condition: Condition, user: str = "u-alice", **attributes: Any) -> str:
    segments = (
        segment("beta-testers", users=("u-alice", "u-bob")),
        segment("german-pros", cond("country", "eq", "DE"), cond("plan", "eq", "pro")),
        segment("empty"),
    )
    flags = flag_set(boolean_flag("gated", rule("only", condition)), segments=segments)
    return _OUTCOMES[logic.evaluate(flags, "gated", context(user, **attributes)).reason]


def test_segment_membership_by_user_id() -> None:
    assert segment_outcome(cond("segment", "in", ["beta-testers"]), user="u-bob") == MATCH
    assert segment_outcome(cond("segment", "in", ["beta-testers"]), user="u-carol") == NO_MATCH


def test_segment_membership_by_conditions() -> None:
    in_german_pros = cond("segment", "in", ["german-pros"])

    assert segment_outcome(in_german_pros, user="u-carol", country="DE", plan="pro") == MATCH
    assert segment_outcome(in_german_pros, user="u-carol", country="DE", plan="free") == NO_MATCH


def test_segment_in_any_and_not_in() -> None:
    assert segment_outcome(cond("segment", "in", ["empty", "beta-testers"]), user="u-alice") == MATCH
    assert segment_outcome(cond("segment", "not_in", ["beta-testers"]), user="u-carol") == MATCH
    assert segment_outcome(cond("segment", "not_in", ["beta-testers"]), user="u-alice") == NO_MATCH
    # A segment without users or conditions contains nobody
    assert segment_outcome(cond("segment", "in", ["empty"])) == NO_MATCH


def test_a_segment_is_shared_by_flags() -> None:
    # Given two flags testing the same segment, evaluated together
    testers = segment("beta-testers", users=("u-alice",))
    flags = flag_set(
        boolean_flag("one", rule("r", cond("segment", "in", ["beta-testers"]))),
        boolean_flag("two", rule("r", cond("segment", "not_in", ["beta-testers"]))),
        segments=(testers,),
    )

    results = logic.evaluate_all(flags, context("u-alice"))

    assert (results["one"].value, results["two"].value) == (True, False)


# --- parsing -----------------------------------------------------------------------------------------------------


def test_semver_order() -> None:
    ordered = [
        "1.0.0-1",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    keys = [semver_key(v) for v in ordered]

    assert all(k is not None for k in keys)
    assert sorted(ordered, key=lambda v: semver_key(v) or (0, 0, 0, ())) == ordered


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.text(max_size=80),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
        st.lists(st.text(max_size=5), max_size=3),
    )
)
def test_no_operator_raises_on_any_scalar_or_list(value: Any) -> None:
    # Given every operator on one attribute
    conditions = [
        cond("a", "eq", "x"),
        cond("a", "neq", 1),
        cond("a", "in", ["x", 1, True]),
        cond("a", "not_in", [2.5]),
        cond("a", "contains", "x"),
        cond("a", "starts_with", "x"),
        cond("a", "regex", "^x+$"),
        cond("a", "lt", 1),
        cond("a", "lte", 1),
        cond("a", "gt", 1),
        cond("a", "gte", 1.5),
        cond("a", "semver_lt", "1.0.0"),
        cond("a", "semver_lte", "1.0.0"),
        cond("a", "semver_gt", "1.0.0"),
        cond("a", "semver_gte", "1.0.0"),
        cond("a", "semver_eq", "1.0.0"),
        cond("a", "date_before", "2025-01-01"),
        cond("a", "date_after", "2025-01-01"),
    ]
    flags = flag_set(*(boolean_flag(f"f{i}", rule("r", c)) for i, c in enumerate(conditions)))

    # When they are evaluated on any value
    results = logic.evaluate_all(flags, context(a=value))

    # Then each one matched or did not; none raised or failed
    assert {r.reason for r in results.values()} <= {EvaluationReason.TARGETING_MATCH, EvaluationReason.DEFAULT}
