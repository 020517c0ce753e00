"""``TransactWriteItems`` with the answers stores need: applied, or why each item was refused.

A transaction that loses to a concurrent one on the same item (``TransactionConflict``) is sent again a few times
with full-jitter pauses; a failed condition is an answer, not an error; anything else is
``DependencyUnavailableError``.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from firstmile.platform.errors import DependencyUnavailableError, aws_error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

CONDITION_FAILED = "ConditionalCheckFailed"
TRANSACTION_CONFLICT = "TransactionConflict"
TRANSACT_ATTEMPTS = 4
MAX_TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the items of one TransactWriteItems."""


def pause(attempt: int) -> None:
    """Wait before retrying a request that lost to a concurrent one (full jitter, capped at 200 ms)."""
    time.sleep(random.uniform(0, min(0.2, 0.01 * 2**attempt)))  # noqa: S311 - jitter, not security


def transact(
    table: Table, items: list[dict[str, Any]], *, attempts: int = TRANSACT_ATTEMPTS
) -> list[dict[str, Any]] | None:
    """Write ``items`` in one transaction: ``None`` when it applied, otherwise the cancellation reason of each item
    (a condition failed, or a concurrent transaction kept winning)."""
    for attempt in range(1, attempts + 1):
        try:
            table.meta.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            code = aws_error_code(exc)
            reasons: list[dict[str, Any]] = list(exc.response.get("CancellationReasons", []))  # type: ignore[arg-type]
            codes = [str(r.get("Code", "None")) for r in reasons]
            if code != "TransactionCanceledException" or len(reasons) != len(items):
                raise DependencyUnavailableError("table", code) from exc
            if CONDITION_FAILED in codes:
                return reasons
            if TRANSACTION_CONFLICT in codes:
                if attempt < attempts:
                    pause(attempt)
                    continue
                return reasons
            raise DependencyUnavailableError("table", f"{code}: {', '.join(codes)}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailableError("table", type(exc).__name__) from exc
        return None
    raise AssertionError("unreachable")


def item_key(write: dict[str, Any]) -> tuple[str, Any, Any]:
    """The table and key (``pk``, ``sk``) a transaction item writes or checks: one item may appear only once in a
    transaction."""
    ((_, request),) = write.items()
    key = request.get("Key") or request["Item"]
    return str(request["TableName"]), key["pk"], key["sk"]


def update(table: Table, request: dict[str, Any]) -> dict[str, Any] | None:
    """One UpdateItem (``request`` as ``Table.update_item`` takes it), sent again after a jittered pause when it meets a
    concurrent transaction on the item. The attributes it returned (as ``ReturnValues`` asks; ``{}`` without), or
    ``None`` when its condition did not hold. ``DependencyUnavailableError`` for anything else."""
    for attempt in range(1, TRANSACT_ATTEMPTS + 1):
        try:
            attributes: dict[str, Any] = table.update_item(**request).get("Attributes", {})
        except ClientError as exc:
            code = aws_error_code(exc)
            if code == "ConditionalCheckFailedException":
                return None
            if code == "TransactionConflictException" and attempt < TRANSACT_ATTEMPTS:
                pause(attempt)
                continue
            raise DependencyUnavailableError("table", code) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailableError("table", type(exc).__name__) from exc
        return attributes
    raise AssertionError("unreachable")
