"""Values between Python and DynamoDB items: boto3 refuses floats and hands numbers back as ``Decimal``.

``attribute`` and ``value`` translate between plain values and DynamoDB's typed attribute values (``{"S": "x"}``,
``{"N": "1.5"}``...) for the table gateway over the low-level client, so no function loads boto3 for it (boto3's
package brings its transfer manager along: about a fifth of the SDK's import). Numbers go out exactly as written
(``item_rules`` judges their digits and magnitude before anything is sent) and come back as ``Decimal``; floats are
refused, as boto3 refuses them, so a value that would lose digits never reaches the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def storable(value: Any) -> Any:
    """A JSON value as boto3 stores it: floats become ``Decimal``, recursively."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """DynamoDB's ``Decimal`` values as ints or floats, recursively (sets and tuples become lists)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    return value


def attribute(value: Any) -> dict[str, Any]:
    """A plain value as DynamoDB's typed attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": _number(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {str(name): attribute(member) for name, member in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [attribute(member) for member in value]}
    if isinstance(value, Set):
        return _set(value)
    raise TypeError(f"DynamoDB cannot store a {type(value).__name__} (numbers are int or Decimal, never float)")


def value(typed: Mapping[str, Any]) -> Any:
    """DynamoDB's typed attribute value as a plain value (numbers as ``Decimal``, sets as sets)."""
    ((kind, data),) = typed.items()
    if kind in ("S", "BOOL", "B"):
        return data
    if kind == "N":
        return Decimal(data)
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: value(member) for name, member in data.items()}
    if kind == "L":
        return [value(member) for member in data]
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {Decimal(member) for member in data}
    if kind == "BS":
        return {bytes(member) for member in data}
    raise ValueError(f"unknown DynamoDB attribute type {kind}")


def _number(number: int | Decimal) -> str:
    if isinstance(number, Decimal) and not number.is_finite():
        raise TypeError("DynamoDB cannot store infinity or NaN")
    return str(number)


def _set(members: Set[Any]) -> dict[str, Any]:
    if not members:
        raise TypeError("DynamoDB cannot store an empty set")
    if all(isinstance(m, str) for m in members):
        return {"SS": list(members)}
    if all(isinstance(m, int | Decimal) and not isinstance(m, bool) for m in members):
        return {"NS": [_number(m) for m in members]}
    if all(isinstance(m, bytes | bytearray) for m in members):
        return {"BS": [bytes(m) for m in members]}
    raise TypeError("a DynamoDB set holds only strings, only numbers or only binary values")


# What every stored item carries besides its own fields: its key and its kind.
ITEM_ENVELOPE = frozenset({"pk", "sk", "kind"})


def without_keys(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item's own fields: the item without its key and ``kind``."""
    return {name: value for name, value in item.items() if name not in ITEM_ENVELOPE}


def stored_fields(model: BaseModel) -> dict[str, Any]:
    """A model's JSON form as item attributes (a map, or an item's own fields): ``None`` fields are left out (they
    read back as their default), floats become ``Decimal``."""
    return {name: storable(value) for name, value in model.model_dump(mode="json").items() if value is not None}
