"""DynamoDB's rules for an item, checked before a write is sent: sizes, nesting, numbers, names and keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from firstmile.errors import ItemRefusedError
from firstmile.platform.item_rules import check_item, check_write_request, guard_writes, number_problem

SERIALIZER = TypeSerializer()


def wire(item: dict[str, Any]) -> dict[str, Any]:
    return {name: SERIALIZER.serialize(value) for name, value in item.items()}


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "1",
        "1E-130",
        "-1E-130",
        "9.9999999999999999999999999999999999999E+37",
        "12345678901234567890123456789012345678",
    ],
)
def test_numbers_dynamodb_stores_pass(text: str) -> None:
    assert number_problem(text) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1E-131", "smaller"),
        ("1E+126", "larger"),
        ("1E+38", "1E+38 or larger"),
        ("-9.99E+125", "1E+38 or larger"),
        ("123456789012345678901234567890123456789", "38 significant digits"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("x", "not a number"),
    ],
)
def test_numbers_dynamodb_refuses_are_named(text: str, why: str) -> None:
    assert why in (number_problem(text) or "")


def test_trailing_zeros_do_not_count_as_precision() -> None:
    assert number_problem("1" + "0" * 37) is None
    assert number_problem("0.000000000000000000000000000000000000000000001") is None


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_every_number_the_rule_accepts_is_one_boto3_serialises_exactly(value: Decimal) -> None:
    # Law: accepted by number_problem => boto3's DynamoDB context stores it without rounding and reads it back equal.
    text = str(value)
    if number_problem(text) is None and len(value.as_tuple().digits) <= 38:
        stored = SERIALIZER.serialize(value)
        assert TypeDeserializer().deserialize(stored) == value


@pytest.mark.parametrize(
    ("item", "limit"),
    [
        ({"pk": "a", "sk": "b", "flow": {"sample_workflow": {"": "x"}}}, "empty_name"),
        ({"pk": "a", "sk": "b", "": "x"}, "empty_name"),
        ({"pk": "a", "sk": "b", "variants": [{"": 1}]}, "empty_name"),
        ({"pk": "a", "sk": ""}, "key_empty"),
        ({"pk": "a", "sk": "b", "gsi1pk": ""}, "key_empty"),
        ({"pk": "p" * 2049, "sk": "b"}, "key_size"),
        ({"pk": "a", "sk": "s" * 1025}, "key_size"),
        ({"pk": "a", "sk": "b", "users": ["u" * 200] * 2100}, "item_size"),
        ({"pk": "a", "sk": "b", "deep": nested(32)}, "nesting"),
        ({"pk": "a", "sk": "b", "tags": set()}, "empty_set"),
    ],
)
def test_items_dynamodb_refuses_are_refused_naming_the_rule(item: dict[str, Any], limit: str) -> None:
    # boto3 refuses to serialise an empty set, so it is written in the wire format directly
    sent = wire(item) if item.get("tags") != set() else {**wire({"pk": "a", "sk": "b"}), "tags": {"SS": []}}
    with pytest.raises(ItemRefusedError) as refused:
        check_item(sent)
    assert refused.value.limit == limit
    assert refused.value.too_large == (limit in ("item_size", "key_size"))


def test_items_at_the_limits_pass() -> None:
    # 31 maps inside each other with a value at the bottom: the 32 levels DynamoDB stores
    check_item(wire({"pk": "p" * 2048, "sk": "s" * 1024, "deep": nested(31), "empty": "", "n": Decimal("1E-130")}))
    check_item(wire({"pk": "a", "sk": "b", "users": ["u" * 200] * 1900}))


def test_every_kind_of_write_is_checked() -> None:
    bad = wire({"pk": "a", "sk": "b", "m": {"": 1}})
    requests = {
        "PutItem": {"Item": bad},
        "UpdateItem": {"Key": wire({"pk": "a", "sk": "b"}), "ExpressionAttributeValues": {":m": bad["m"]}},
        "TransactWriteItems": {"TransactItems": [{"Put": {"Item": bad}}]},
        "BatchWriteItem": {"RequestItems": {"t": [{"PutRequest": {"Item": bad}}]}},
        "DeleteItem": {"Key": wire({"pk": "a", "sk": ""})},
    }
    for operation, params in requests.items():
        with pytest.raises(ItemRefusedError):
            check_write_request(operation, params)


def test_the_guard_refuses_before_anything_is_sent() -> None:
    # Given a table resource whose client would fail loudly if it ever sent a request
    resource = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).resource("dynamodb", endpoint_url="http://127.0.0.1:9")
    guard_writes(resource.meta.client)
    sent: list[str] = []
    resource.meta.client.meta.events.register("before-send.dynamodb", lambda **kw: sent.append("sent"))

    # When an item with an empty map key is put through the resource (python values, serialised by boto3)
    with pytest.raises(ItemRefusedError):
        resource.Table("t").put_item(Item={"pk": "a", "sk": "b", "flags": {"": 1}})

    # Then nothing left the process
    assert sent == []
