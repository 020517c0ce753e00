"""Reading every page of a DynamoDB Query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from firstmile.platform.errors import table_call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


def query_all(table: Table, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The items of ``query`` (as ``Table.query`` takes it), page after page to the end. AWS errors become
    ``DependencyUnavailableError``. ``query`` is not changed."""
    request = dict(query)
    while True:
        response = table_call(lambda: table.query(**request))
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last
