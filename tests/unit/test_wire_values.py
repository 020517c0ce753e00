"""Typed attribute values: the gateway over the low-level client converts values itself, and must send and read back
exactly what boto3's resource layer would (the table gateway's integration test checks both kinds on the emulator)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from firstmile.platform.items import attribute, value

names = st.text(min_size=1, max_size=8)
numbers = st.integers(-(10**37), 10**37) | st.decimals(
    min_value=Decimal("-1e20"), max_value=Decimal("1e20"), allow_nan=False, allow_infinity=False, places=6
)
scalars = st.none() | st.booleans() | st.text(max_size=20) | numbers | st.binary(max_size=8)
sets = (
    st.frozensets(st.text(max_size=8), min_size=1, max_size=4)
    | st.frozensets(st.integers(-1000, 1000), min_size=1, max_size=4)
    | st.frozensets(st.binary(min_size=1, max_size=4), min_size=1, max_size=4)
)
values = st.recursive(
    scalars | sets,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=12,
)


def unordered(typed: Any) -> Any:
    """A typed value with its sets' members sorted (a set has no order on the wire either)."""
    if isinstance(typed, dict):
        return {k: sorted(v) if k in ("SS", "NS", "BS") else unordered(v) for k, v in typed.items()}
    if isinstance(typed, list):
        return [unordered(v) for v in typed]
    return typed


@given(values)
def test_a_value_goes_out_as_boto3_sends_it(plain: Any) -> None:
    assert unordered(attribute(plain)) == unordered(_as_boto3_sends(plain))


@given(values)
def test_a_value_comes_back_as_boto3_reads_it(plain: Any) -> None:
    typed = TypeSerializer().serialize(plain)

    assert value(typed) == _as_boto3_reads(typed)


def test_numbers_are_sent_with_every_digit_for_the_item_rules_to_judge() -> None:
    # boto3 would raise decimal.Rounded here; the gateway leaves the refusal to item_rules (a 422 naming the limit).
    assert attribute(Decimal("1" * 40)) == {"N": "1" * 40}


@pytest.mark.parametrize(
    "refused",
    [1.5, Decimal("NaN"), Decimal("Infinity"), set(), {"a", 1}, object()],
    ids=["float", "nan", "infinity", "empty set", "mixed set", "object"],
)
def test_what_dynamodb_cannot_store_is_refused_before_it_is_sent(refused: Any) -> None:
    with pytest.raises(TypeError):
        attribute(refused)


def test_an_unknown_type_on_the_wire_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unknown DynamoDB attribute type"):
        value({"X": "1"})


def _as_boto3_sends(plain: Any) -> Any:
    return TypeSerializer().serialize(plain)


def _as_boto3_reads(typed: Any) -> Any:
    return _plain_binary(TypeDeserializer().deserialize(typed))


def _plain_binary(read: Any) -> Any:
    """boto3 reads binary values as ``Binary``; the gateway hands back bytes."""
    if isinstance(read, Binary):
        return read.value
    if isinstance(read, dict):
        return {k: _plain_binary(v) for k, v in read.items()}
    if isinstance(read, list):
        return [_plain_binary(v) for v in read]
    if isinstance(read, set):
        return {_plain_binary(v) for v in read}
    return read
