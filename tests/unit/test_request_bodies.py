"""Request bodies at the edge: media types, decoding, nesting, DynamoDB's numbers and names, strict validation."""

from __future__ import annotations

import base64
import json
import math
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Body
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, JsonValue

from firstmile import entrypoints
from firstmile.http import problems as p
from firstmile.http.bodies import MAX_BODY_BYTES, admit_body, nesting_depth, read_json
from firstmile.http.resolver import create_app
from firstmile.platform.item_rules import number_problem
from firstmile.platform.items import storable
from tests.factories import FakeLambdaContext, body_of, http_event


class Step(BaseModel):
    title: str = Field(max_length=50)
    required: bool = True
    order: int = 0
    weight: float = 1.0
    sample: dict[str, JsonValue] = Field(default_factory=dict)


def build_handler(*, form: Any = None) -> Any:
    app = create_app()

    @app.post("/v1/steps")
    def create(step: Annotated[Step, Body()]) -> Step:
        return step

    return entrypoints.http(app, form=form)


def post(body: Any, *, content_type: str | None = "application/json", encoded: bool = False, form: Any = None) -> Any:
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    event = http_event("POST", "/v1/steps", headers={"content-type": content_type} if content_type else {})
    data = raw.encode() if isinstance(raw, str) else raw
    if encoded or isinstance(raw, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
    else:
        event["body"] = raw
    return build_handler(form=form)(event, FakeLambdaContext())


def problem_of(response: Any) -> tuple[int, str]:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    document = body_of(response)
    assert "Traceback" not in json.dumps(document)
    return response["statusCode"], document["code"]


VALID = {"title": "Connect data", "required": True, "order": 2, "weight": 0.5}


def test_a_valid_json_body_is_answered() -> None:
    response = post(VALID)
    assert response["statusCode"] == 200
    assert body_of(response)["title"] == "Connect data"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        None,
    ],
)
def test_bodies_that_are_not_json_are_unsupported_media(content_type: str | None) -> None:
    response = post(VALID, content_type=content_type)
    assert problem_of(response) == (415, "VAL_MEDIA_TYPE_UNSUPPORTED")
    assert "application/json" in response["headers"]["Accept-Post"]


def test_json_with_a_utf8_charset_or_in_base64_is_read() -> None:
    assert post(VALID, content_type="application/json; charset=UTF-8")["statusCode"] == 200
    assert post(VALID, encoded=True)["statusCode"] == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "\xff\xfe"}',
        '{"title": "a"',
        '{"title": "a", "title": "b"}',
        '{"title": "\\ud800"}',
        "[" * 20_000 + "]" * 20_000,
        '{"a":' * 20_000 + "1" + "}" * 20_000,
        "[" * 20_000,
        "[}",
    ],
    ids=["not-utf8", "truncated", "repeated-name", "lone-surrogate", "deep-array", "deep-object", "open", "unpaired"],
)
def test_undecodable_or_too_deep_bodies_are_bad_requests(body: Any) -> None:
    status, code = problem_of(post(body))
    assert status == 400
    assert code in ("VAL_BAD_REQUEST", "VAL_BODY_TOO_DEEP")


def test_nesting_beyond_dynamodbs_32_levels_is_named() -> None:
    # the body's object holding 31 more: 32 objects inside each other, one more than 32 levels hold with a value
    sample: dict[str, Any] = {"x": 1}
    for _ in range(30):
        sample = {"a": sample}
    response = post({**VALID, "sample": sample})
    assert problem_of(response) == (400, "VAL_BODY_TOO_DEEP")
    assert "32 levels" in body_of(response)["detail"]


@pytest.mark.parametrize(
    "literal",
    [
        "1" * 5000,
        "NaN",
        "Infinity",
        "-Infinity",
        "1e-300",
        "1e126",
        "1e400",
        "1.00000000000000000000000000000000000001",
    ],
)
def test_numbers_dynamodb_cannot_store_are_unprocessable(literal: str) -> None:
    response = post(f'{{"title": "t", "weight": {literal}}}')
    assert problem_of(response) == (422, "VAL_UNSTORABLE_VALUE")


def test_an_empty_member_name_anywhere_is_unprocessable() -> None:
    response = post({**VALID, "sample": {"steps": [{"": "x"}]}})
    assert problem_of(response) == (422, "VAL_UNSTORABLE_VALUE")
    assert "empty" in body_of(response)["detail"]


def test_a_body_larger_than_the_edge_allows_is_too_large() -> None:
    response = post({**VALID, "sample": {"blob": "x" * MAX_BODY_BYTES}})
    assert problem_of(response) == (413, "VAL_TOO_LARGE")


@pytest.mark.parametrize(
    ("field", "value"),
    [("required", 0), ("required", "true"), ("order", "1"), ("order", 1.0), ("order", True), ("weight", "0.5")],
)
def test_validation_is_strict_about_json_types(field: str, value: Any) -> None:
    response = post({**VALID, field: value})
    assert problem_of(response) == (422, "VAL_REQUEST_INVALID")
    assert any(e["location"] == f"body.{field}" for e in body_of(response)["errors"])


def test_an_integer_where_a_number_is_expected_is_still_a_number() -> None:
    assert post({**VALID, "weight": 1})["statusCode"] == 200


def test_a_form_is_read_only_by_a_route_that_reads_forms() -> None:
    def reader(fields: dict[str, str]) -> dict[str, Any]:
        return {"title": fields["title"], "order": int(fields["order"])}

    form = "title=From+a+form&order=3"
    accepted = post(form, content_type="application/x-www-form-urlencoded", form=reader)
    repeated = post(form + "&title=again", content_type="application/x-www-form-urlencoded", form=reader)

    assert accepted["statusCode"] == 200 and body_of(accepted)["title"] == "From a form"
    assert problem_of(repeated) == (400, "VAL_BAD_REQUEST")


def test_nesting_depth_counts_without_recursion_and_ignores_strings() -> None:
    assert nesting_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert nesting_depth("[]" * 100_000) == 1
    assert nesting_depth("[" * 100_000 + "]" * 100_000) == 32  # reported as one past the limit of 31
    assert nesting_depth("1") == 0


def test_an_event_without_a_body_is_left_alone() -> None:
    event = http_event("GET", "/v1/steps")
    admit_body(event)
    assert event["body"] is None


json_numbers = st.one_of(
    st.integers(min_value=-(10**45), max_value=10**45).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: str(d).replace("E", "e")),
)


@given(json_numbers)
def test_every_number_the_edge_admits_is_stored_by_dynamodb_exactly_as_read(literal: str) -> None:
    # Law: admitted => the stores' conversion (storable) serialises through boto3 and DynamoDB's number rule holds.
    try:
        json.loads(literal)
    except ValueError:
        return  # not a JSON number literal (e.g. Decimal's "1E+5" spellings Python's json refuses)
    try:
        value = read_json(literal)
    except p.Problem as refused:
        assert refused.error.status == 422
        return
    stored = TypeSerializer().serialize(storable(value))
    assert number_problem(stored["N"]) is None
    assert math.isclose(float(stored["N"]), value, rel_tol=0) or float(stored["N"]) == value
