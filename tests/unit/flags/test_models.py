"""What the flag models accept and refuse: conditions per operator, bounded regular expressions, serves, flags."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from firstmile.flags.models import (
    FLAG_KEY_PATTERN,
    MAX_REGEX_LENGTH,
    Condition,
    Flag,
    FlagSet,
    Segment,
    Serve,
    check_regex,
)
from firstmile.onboarding import models as onboarding_models
from tests.unit.flags.flagsets import ON, boolean_flag, cond, rule, variants_flag


def test_flag_keys_have_the_shape_of_onboarding_gating_flags() -> None:
    assert FLAG_KEY_PATTERN == onboarding_models.FLAG_KEY_PATTERN
    boolean_flag("checkout.v2_beta-1")
    with pytest.raises(ValidationError):
        boolean_flag("New Checkout")


@pytest.mark.parametrize(
    ("attribute", "operator", "value"),
    [
        ("country", "in", "DE"),
        ("country", "eq", ["DE"]),
        ("country", "in", []),
        ("seats", "lt", "10"),
        ("seats", "gt", True),
        ("email", "contains", ""),
        ("email", "starts_with", 5),
        ("app_version", "semver_gte", "two"),
        ("signed_up", "date_after", "last week"),
        ("segment", "eq", "staff"),
        ("segment", "in", ["Not A Key"]),
        ("bad attribute", "eq", "x"),
        ("plan", "like", "pro"),
    ],
)
def test_a_condition_that_does_not_fit_its_operator_is_refused(attribute: str, operator: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        Condition.model_validate({"attribute": attribute, "operator": operator, "value": value})


def test_json_booleans_stay_booleans_and_numbers_numbers() -> None:
    parsed = Condition.model_validate_json('{"attribute": "x", "operator": "in", "value": [true, 1, 1.5, "1"]}')

    assert [type(v) for v in parsed.value] == [bool, int, float, str]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "pattern",
    [
        r"^user-\d+$",
        r"@acme\.(com|io)$",
        r"(?i)^beta",
        r"^(de|fr)-[A-Z]{2}$",
        r"(ab){3}",
        r"[(a+)+]",
        r"\(a+\)+",
        r"(a+)?",
        r"(?:x*)",
        r"^a{1,5}b*$",
    ],
)
def test_bounded_regular_expressions_are_accepted(pattern: str) -> None:
    assert isinstance(check_regex(pattern), re.Pattern)
    cond("email", "regex", pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+",
        r"(a*)*b",
        r"(a|aa)+",
        r"((ab)*c)+",
        r"(\d+){2,}",
        r"(?:x+)+?",
        r"(a+){3}",
        r"(.*a){10}",
        r"(x)\1",
        r"(?P<n>a)(?P=n)",
        r"(a)?(?(1)b|c)",
        "a" * (MAX_REGEX_LENGTH + 1),
        r"([a-z",
    ],
)
def test_regular_expressions_that_backtrack_without_bound_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        check_regex(pattern)
    with pytest.raises(ValidationError):
        cond("email", "regex", pattern)


def test_percentages_resolve_to_a_thousandth_of_a_percent() -> None:
    assert rule("r", percentage=12.345).threshold == 12_345
    assert rule("r", percentage=0.001).threshold == 1
    assert rule("r", percentage=100).threshold == 100_000
    for refused in (12.3456, -1, 100.001):
        with pytest.raises(ValidationError):
            rule("r", percentage=refused)


@pytest.mark.parametrize(
    "serve",
    [
        {},
        {"value": True, "variant": "on"},
        {"split": True, "weights": {"on": 1}},
        {"weights": {"on": 0, "off": 0}},
        {"split": False},
    ],
)
def test_a_serve_is_exactly_one_thing(serve: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Serve.model_validate(serve)


@pytest.mark.parametrize(
    "changes",
    [
        {"variants": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]},
        {"off_variant": "on"},
        {"fallthrough": {"split": True}},
        {"fallthrough": {"variant": "purple"}},
        {"fallthrough": {"weights": {"on": 1, "maybe": 1}}},
        {"rules": [{"id": "r", "serve": {"value": True}}, {"id": "r", "serve": {"value": False}}]},
        {"prerequisites": [{"flag": "x"}, {"flag": "x", "variant": "off"}]},
        {"tags": ["payments", "payments"]},
        {"salt": "with:colon"},
        {"salt": "with/slash"},
    ],
)
def test_an_inconsistent_boolean_flag_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Flag.model_validate({"key": "beta", "enabled": True, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"variants": [{"key": "a", "value": 1}]},
        {"variants": [{"key": "a", "value": 1}, {"key": "a", "value": 2}]},
        {"off_variant": None},
        {"off_variant": "c"},
        {"fallthrough": {"value": True}},
        {"fallthrough": {"split": True}, "variants": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]},
        {"variants": [{"key": "a", "value": "x" * 9000}, {"key": "b", "value": 2}]},
    ],
)
def test_an_inconsistent_variants_flag_is_refused(changes: dict[str, Any]) -> None:
    flag = {
        "key": "colour",
        "type": "variants",
        "variants": [{"key": "a", "value": 1, "weight": 1}, {"key": "b", "value": 2, "weight": 1}],
        "off_variant": "a",
        **changes,
    }
    with pytest.raises(ValidationError):
        Flag.model_validate(flag)


def test_the_salt_defaults_to_the_key_and_is_kept() -> None:
    flag = boolean_flag("beta", rule("r", percentage=10))

    stored = flag.model_dump(mode="json")
    copied = Flag.model_validate({**stored, "key": "beta-copy"})

    assert stored["salt"] == "beta"
    assert copied.salt == "beta"


def test_a_flag_round_trips_through_json() -> None:
    flag = variants_flag(
        "colour",
        {"a": ({"hex": "#000"}, 1), "b": ([1, 2], 3)},
        rule("r", cond("app_version", "semver_gte", "2.0.0"), serve=Serve(weights={"a": 1, "b": 1}), percentage=5.5),
        off="a",
        fallthrough=Serve(split=True),
    )

    assert Flag.model_validate_json(flag.model_dump_json()) == flag


def test_segments_may_not_test_segments() -> None:
    with pytest.raises(ValidationError):
        Segment(key="nested", conditions=[cond("segment", "in", ["other"])])


def test_a_flag_set_files_flags_under_their_keys() -> None:
    with pytest.raises(ValidationError):
        FlagSet(tenant="t-acme", flags={"other": boolean_flag("beta", fallthrough=ON)})
