"""What DynamoDB refuses in an item, checked before a write leaves the process.

DynamoDB answers a ``ValidationException`` for these, which the stores would report as an unavailable table (503)
although the request was at fault; an emulator may even store them, and every later read of the item then fails.
So every write request is checked here first (``guard_writes`` hooks the check onto the client), and a refusal is
an ``ItemRefusedError`` naming the limit, which the HTTP layer answers as 413 (size) or 422 (everything else).

The rules, as the service documents and enforces them:
- an item is at most 400 KB (attribute names and values, UTF-8; numbers about one byte per two digits);
- maps and lists nest at most 32 levels, the attribute itself being level 1 and a scalar at the bottom counting
  too: at most 31 maps or lists inside each other (measured against DynamoDB: 31 map-wraps are stored, 32 refused);
- numbers have at most 38 significant digits and a magnitude of 1E-130 to 9.99...E+125 (or are zero); Firstmile
  holds them below 1E+38 (``MAX_STORED_EXPONENT``), see ``number_problem``;
- an attribute name, a map key included at any depth, is never empty; a set is never empty;
- key attributes (of the table and of its indexes) are non-empty; a partition key is at most 2048 bytes, a sort key
  at most 1024 bytes.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from firstmile.errors import ItemRefusedError
from firstmile.platform.table import MAIN_TABLE, TableDefinition

MAX_ITEM_BYTES = 400 * 1024
MAX_NESTING = 32
# Maps and lists inside each other, the outermost counted, that fit in MAX_NESTING levels with a value at the bottom.
MAX_CONTAINER_DEPTH = MAX_NESTING - 1
MAX_NUMBER_DIGITS = 38
# Adjusted exponents (the power of ten of the first significant digit) DynamoDB stores.
MIN_NUMBER_EXPONENT = -130
MAX_NUMBER_EXPONENT = 125
# DynamoDB Local answers a number of 1E+38 or more written out in full (1E+100 as 101 digits), which boto3's decimal
# context refuses to read (it would have to round trailing zeros): such a number, once stored, could not be read
# back. No Firstmile field needs one, so numbers are held below 1E+38 (docs/decisions/0007).
MAX_STORED_EXPONENT = 37
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024

_WRITES = ("PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem", "DeleteItem")


def number_problem(text: str) -> str | None:
    """Why DynamoDB would refuse the number written as ``text``, or ``None`` when it stores it exactly."""
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return "is not a number"
    if not value.is_finite():
        return "is not a finite number"
    if value.is_zero():
        return None
    digits = value.normalize(decimal.Context(prec=len(text) + 2)).as_tuple().digits
    if len(digits) > MAX_NUMBER_DIGITS:
        return f"has more than {MAX_NUMBER_DIGITS} significant digits"
    exponent = value.adjusted()
    if exponent > MAX_NUMBER_EXPONENT:
        return "is larger in magnitude than 9.99E+125"
    if exponent > MAX_STORED_EXPONENT:
        return "is 1E+38 or larger in magnitude (Firstmile stores numbers below 1E+38, so every client reads them back)"
    if exponent < MIN_NUMBER_EXPONENT:
        return "is smaller in magnitude than 1E-130"
    return None


def check_item(item: Mapping[str, Any], *, table: TableDefinition = MAIN_TABLE, what: str = "the item") -> None:
    """Refuse (``ItemRefusedError``) an item in DynamoDB's wire format (``{"S": ...}``, ``{"M": ...}``) that the
    service would refuse, with its keys checked as ``table`` declares them."""
    size = 0
    for name, value in item.items():
        _check_name(name, what)
        size += len(name.encode("utf-8")) + _value_size(value, what, depth=0)
    if size > MAX_ITEM_BYTES:
        raise ItemRefusedError(
            "item_size", f"{_first(what)} would be about {size // 1024} KB; DynamoDB stores at most 400 KB per item."
        )
    check_key(item, table=table, what=what, partial=True)


def check_values(values: Mapping[str, Any], *, what: str = "a value") -> None:
    """Refuse update values (``ExpressionAttributeValues``) that no item could hold."""
    for value in values.values():
        size = _value_size(value, what, depth=0)
        if size > MAX_ITEM_BYTES:
            raise ItemRefusedError(
                "item_size", f"{_first(what)} alone is larger than the 400 KB DynamoDB stores per item."
            )


def check_key(
    key: Mapping[str, Any], *, table: TableDefinition = MAIN_TABLE, what: str = "the item", partial: bool = False
) -> None:
    """Refuse empty key values and key values longer than DynamoDB allows (table and index keys)."""
    pairs = [(table.partition_key.name, MAX_PARTITION_KEY_BYTES), (table.sort_key.name, MAX_SORT_KEY_BYTES)]
    for index in table.indexes:
        pairs.append((index.partition_key.name, MAX_PARTITION_KEY_BYTES))
        if index.sort_key is not None:
            pairs.append((index.sort_key.name, MAX_SORT_KEY_BYTES))
    for name, limit in pairs:
        value = key.get(name)
        if value is None:
            continue
        raw = value.get("S", value.get("B", value.get("N")))
        length = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw or b"")
        if length == 0:
            raise ItemRefusedError("key_empty", f"A key of {what} would be empty; DynamoDB refuses empty keys.")
        if length > limit:
            raise ItemRefusedError(
                "key_size", f"A key of {what} would be {length} bytes; DynamoDB allows at most {limit} for it."
            )


def check_write_request(operation: str, params: Mapping[str, Any], *, table: TableDefinition = MAIN_TABLE) -> None:
    """Check one write request (its items, keys and update values) as DynamoDB would."""
    if operation == "PutItem":
        check_item(params.get("Item") or {}, table=table)
    elif operation in ("UpdateItem", "DeleteItem"):
        check_key(params.get("Key") or {}, table=table)
        check_values(params.get("ExpressionAttributeValues") or {})
    elif operation == "TransactWriteItems":
        for action in params.get("TransactItems") or ():
            for kind, request in action.items():
                if kind == "Put":
                    check_item(request.get("Item") or {}, table=table)
                else:
                    check_key(request.get("Key") or {}, table=table)
                check_values(request.get("ExpressionAttributeValues") or {})
    elif operation == "BatchWriteItem":
        for requests in (params.get("RequestItems") or {}).values():
            for request in requests:
                if "PutRequest" in request:
                    check_item(request["PutRequest"].get("Item") or {}, table=table)
                elif "DeleteRequest" in request:
                    check_key(request["DeleteRequest"].get("Key") or {}, table=table)


def guard_writes(client: Any, table: TableDefinition = MAIN_TABLE) -> Any:
    """Hook ``check_write_request`` onto a DynamoDB client (the resource's too), after boto3 has serialised the
    request's values, so nothing the service would refuse is ever sent. Returns the client."""

    def check(params: dict[str, Any], model: Any = None, **_: Any) -> None:
        operation = getattr(model, "name", "")
        if operation in _WRITES:
            check_write_request(operation, params, table=table)

    # On the service-wide event, where boto3's resource registered its serialiser: "last" runs after it there.
    client.meta.events.register_last("before-parameter-build.dynamodb", check)
    return client


def _first(what: str) -> str:
    return what[:1].upper() + what[1:]


def _check_name(name: str, what: str) -> None:
    if name == "":
        raise ItemRefusedError("empty_name", f"{_first(what)} would have an empty attribute or map key name.")


def _value_size(value: Mapping[str, Any], what: str, depth: int) -> int:
    """The stored size of one attribute value (DynamoDB's accounting, rounded up), after checking it."""
    ((kind, data),) = value.items() if len(value) == 1 else (("?", None),)
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        problem = number_problem(str(data))
        if problem:
            raise ItemRefusedError("number", f"A number in {what} {problem}, which DynamoDB cannot store.")
        return len(str(data)) // 2 + 2
    if kind == "B":
        return len(data or b"")
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        items = list(data or ())
        if not items:
            raise ItemRefusedError("empty_set", f"{_first(what)} would hold an empty set; DynamoDB refuses empty sets.")
        return sum(_value_size({kind[0]: item}, what, depth) for item in items)
    if kind in ("M", "L"):
        if depth + 1 > MAX_CONTAINER_DEPTH:
            raise ItemRefusedError(
                "nesting", f"{_first(what)} would nest deeper than the {MAX_NESTING} levels DynamoDB stores."
            )
        members: Iterable[tuple[str, Any]] = (data or {}).items() if kind == "M" else (("", v) for v in data or ())
        size = 3
        for name, member in members:
            if kind == "M":
                _check_name(name, what)
            size += len(name.encode("utf-8")) + 1 + _value_size(member, what, depth + 1)
        return size
    raise ItemRefusedError("value_type", f"{_first(what)} holds a value DynamoDB does not know.")
