"""Request bodies at the edge: what media types a route reads, and JSON that the API and DynamoDB can hold.

Every HTTP function's entry point runs ``admit_body`` before its resolver sees the request, so no route needs code of
its own for this (docs/decisions/0007-request-bodies-at-the-edge.md). A body is refused when:
- its media type is not JSON (or, for a route that reads forms, ``application/x-www-form-urlencoded``): 415;
- it is larger than ``MAX_BODY_BYTES``: 413;
- it is not UTF-8, not JSON, repeats a member name, holds a lone surrogate, or nests more than 31 arrays and objects
  inside each other (what fits in the 32 levels DynamoDB stores, a value at the bottom): 400;
- it holds a number DynamoDB cannot store exactly (NaN, infinities, more than 38 significant digits, a magnitude
  outside 1E-130..9.99E+125) or an empty member name (DynamoDB refuses an empty map key): 422.
A form body is turned into the JSON the route's model reads, so validation and the OpenAPI document stay JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from firstmile import errors as e
from firstmile.http import problems as p
from firstmile.http.headers import header
from firstmile.platform.item_rules import MAX_CONTAINER_DEPTH, MAX_NESTING, MAX_NUMBER_DIGITS, number_problem

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# Far above any body an item can hold (400 KB), far below API Gateway's 10 MB: bounds the work of reading one.
MAX_BODY_BYTES = 1024 * 1024
MAX_FORM_FIELDS = 64

FormReader = Callable[[dict[str, str]], dict[str, Any]]
"""Turns a form's fields (each given once) into the JSON body the route's model reads."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


class _Refused(Exception):
    def __init__(self, problem: p.Problem) -> None:
        self.problem = problem


def admit_body(event: dict[str, Any], *, form: FormReader | None = None) -> None:
    """Check the body of an API Gateway (payload v2) ``event``; raise the ``Problem`` that refuses it.

    An admitted body is left in ``event`` as JSON text (a form body converted by ``form``), so the resolver reads
    exactly what was checked.
    """
    raw = event.get("body")
    if raw is None or raw == "":
        return
    headers = event.get("headers") or {}
    media_type, charset = _media_type(header(headers, "content-type"))
    accepted = (JSON_MEDIA_TYPE, FORM_MEDIA_TYPE) if form is not None else (JSON_MEDIA_TYPE,)
    if media_type not in accepted or charset not in (None, "utf-8"):
        raise p.Problem(
            e.VAL_MEDIA_TYPE_UNSUPPORTED,
            f"This route reads {' or '.join(accepted)} (UTF-8) request bodies.",
            headers={"Accept-Post": ", ".join(accepted)},
        )
    text = _text(raw, bool(event.get("isBase64Encoded")))
    if media_type == FORM_MEDIA_TYPE and form is not None:
        data = form(_form_fields(text))
        text = json.dumps(data, separators=(",", ":"))
    else:
        read_json(text)
    event["body"], event["isBase64Encoded"] = text, False
    event["headers"] = {
        **{k: v for k, v in headers.items() if k.lower() != "content-type"},
        "content-type": "application/json",
    }


def read_json(text: str) -> Any:
    """The JSON value of ``text``, or the ``Problem`` refusing it (see the module's rules)."""
    depth = nesting_depth(text)
    if depth is None:
        raise p.Problem(e.VAL_BAD_REQUEST, "The request body is not valid JSON.")
    if depth > MAX_CONTAINER_DEPTH:
        raise p.Problem(
            e.VAL_BODY_TOO_DEEP, f"The body nests deeper than {MAX_NESTING} levels, the most DynamoDB stores."
        )
    try:
        value = json.loads(
            text,
            parse_int=_integer,
            parse_float=_fraction,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except _Refused as refused:
        raise refused.problem from None
    except (ValueError, RecursionError):
        raise p.Problem(e.VAL_BAD_REQUEST, "The request body is not valid JSON.") from None
    if not _encodable(value):
        raise p.Problem(e.VAL_BAD_REQUEST, "The request body holds text that is not valid Unicode.")
    return value


def nesting_depth(text: str, *, limit: int = MAX_CONTAINER_DEPTH) -> int | None:
    """How deep arrays and objects nest in JSON ``text`` (strings ignored), counted without recursion, up to
    ``limit + 1`` (anything deeper is reported as ``limit + 1``); ``None`` when the brackets do not pair up."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = 0
    while brackets and depth <= limit:
        brackets, removed = _EMPTY_PAIR.subn("", brackets)
        if removed == 0:
            return None
        depth += 1
    return depth if not brackets else limit + 1


def _media_type(value: str | None) -> tuple[str, str | None]:
    if not value:
        return "", None
    kind, *params = (part.strip() for part in value.split(";"))
    charset = None
    for param in params:
        name, _, given = param.partition("=")
        if name.strip().lower() == "charset":
            charset = given.strip().strip('"').lower()
    return kind.lower(), charset


def _text(raw: Any, encoded: bool) -> str:
    try:
        data = base64.b64decode(str(raw), validate=True) if encoded else str(raw).encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        raise p.Problem(e.VAL_BAD_REQUEST, "The request body could not be decoded.") from None
    if len(data) > MAX_BODY_BYTES:
        raise p.Problem(e.VAL_TOO_LARGE, f"The request body is larger than {MAX_BODY_BYTES // 1024} KB.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise p.Problem(e.VAL_BAD_REQUEST, "The request body is not UTF-8 text.") from None


def _form_fields(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        raise p.Problem(e.VAL_BAD_REQUEST, "The request body is not a valid URL-encoded form.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            # RFC 6749 section 3.2: a parameter must not be sent more than once.
            raise p.Problem(e.VAL_BAD_REQUEST, f"The form field {name} is given more than once.")
        fields[name] = value
    return fields


def _unstorable(detail: str) -> _Refused:
    return _Refused(p.Problem(e.VAL_UNSTORABLE_VALUE, detail))


def _integer(text: str) -> int:
    digits = text.lstrip("-").lstrip("0")
    if len(digits) > MAX_NUMBER_DIGITS:
        raise _unstorable(f"An integer in the body has more than {MAX_NUMBER_DIGITS} digits, the most DynamoDB stores.")
    return int(text)


def _fraction(text: str) -> float:
    problem = number_problem(text)
    value = float(text)
    if problem is None and value != 0:  # the float it becomes must be storable too
        problem = number_problem(repr(value))
    if problem is not None:
        raise _unstorable(f"A number in the body {problem}, which DynamoDB cannot store.")
    return value


def _constant(text: str) -> Any:
    raise _unstorable(f"{text} is not a JSON number and cannot be stored.")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name == "":
            raise _unstorable("An object in the body has an empty member name; DynamoDB refuses empty map keys.")
        if name in members:
            raise _Refused(p.Problem(e.VAL_BAD_REQUEST, "An object in the body repeats a member name."))
        members[name] = value
    return members


def _encodable(value: Any) -> bool:
    """Whether every string in ``value`` (member names included) can be written as UTF-8."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True
