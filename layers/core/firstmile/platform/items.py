"""Values between Python and DynamoDB items: boto3 refuses floats and hands numbers back as ``Decimal``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


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
