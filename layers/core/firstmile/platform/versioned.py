"""Versioned items: optimistic concurrency with conditional writes.

An item carries an integer ``version``. A write names the version it read; DynamoDB refuses the write when the
stored version differs and hands back the current item in the same call
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so a conflict costs no second read.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer

from firstmile.platform.errors import VersionConflictError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

T = TypeVar("T")
VERSION = "version"
_deserializer = TypeDeserializer()


def put_versioned(table: Table, item: dict[str, Any], expected_version: int) -> dict[str, Any]:
    """Write ``item`` as version ``expected_version + 1``; version 0 means "must not exist yet".

    Raises ``VersionConflictError`` carrying the stored item when someone else wrote first.
    """
    new_item = {**item, VERSION: expected_version + 1}
    if expected_version == 0:
        condition, values = "attribute_not_exists(pk)", {}
    else:
        condition, values = "#v = :expected", {":expected": expected_version}
    kwargs: dict[str, Any] = {
        "Item": new_item,
        "ConditionExpression": condition,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if values:
        kwargs["ExpressionAttributeNames"] = {"#v": VERSION}
        kwargs["ExpressionAttributeValues"] = values
    try:
        table.put_item(**kwargs)
    except table.meta.client.exceptions.ConditionalCheckFailedException as exc:
        raise conflict_from(exc) from None
    return new_item


def conflict_from(exc: Exception) -> VersionConflictError:
    """The conflict error for a failed conditional write, with the stored item when DynamoDB returned it."""
    raw = getattr(exc, "response", {}).get("Item")
    current = {k: _deserializer.deserialize(v) for k, v in raw.items()} if raw else None
    version = int(current[VERSION]) if current and VERSION in current else None
    return VersionConflictError(current, version)


def retry_on_conflict(
    attempt: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay_seconds: float = 0.02,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run a read-modify-write ``attempt`` again when it loses a race, with full-jitter backoff.

    Used when the client sent no ``If-Match``: the write still cannot lose anybody's update, it just re-reads.
    The last conflict propagates after ``attempts`` tries.
    """
    for tries in range(1, attempts + 1):
        try:
            return attempt()
        except VersionConflictError:
            if tries == attempts:
                raise
            sleep(random.uniform(0, base_delay_seconds * 2**tries))  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable")
