"""The dependency checks against real AWS resources, and where probe results are kept (``ProbeResultStore``).

Key formats of the health items (see docs/data-model.md):
- probe result: ``pk = PROBE#<yyyy-mm-dd>``, ``sk = <ISO-8601 time>``, expires after ``PROBE_RETENTION_DAYS``.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from firstmile.config import Settings
from firstmile.health.logic import DependencyCheck
from firstmile.health.models import ComponentStatus, Readiness
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway, partition
from firstmile.platform.items import plain, storable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

PROBE_RETENTION_DAYS = 90
# A key no item uses: reading it proves the table answers without touching anybody's data.
_READINESS_KEY = {"pk": "HEALTH", "sk": "READINESS"}


def dependency_checks(settings: Settings, queues: tuple[str, ...] | None = None) -> dict[str, DependencyCheck]:
    """One check per dependency the deployment needs: the table, the exports bucket and the queues."""

    def table() -> None:
        # Over the low-level client: a health check has no use for boto3's resource layer at cold start.
        TableGateway.over_client(aws.dynamodb(), settings.table_name).get(_READINESS_KEY, consistent=False)

    def bucket() -> None:
        aws.s3().head_bucket(Bucket=settings.exports_bucket)

    def queue(url: str) -> DependencyCheck:
        return lambda: aws.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]) and None

    checks: dict[str, DependencyCheck] = {"table": table, f"bucket:{settings.exports_bucket}": bucket}
    for name, url in sorted(settings.queue_urls.items()):
        if queues is None or name in queues:
            checks[f"queue:{name}"] = queue(url)
    return checks


def _day_partition(day: date) -> str:
    return f"PROBE#{day.isoformat()}"


class ProbeResultStore:
    """The synthetic probe's results: one item per result under the day it was checked on, removed by TTL."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def record(self, readiness: Readiness) -> None:
        """Keep one probe result (one ``PutItem``); the SLA views read them by day."""
        at = readiness.checked_at
        self._table.put(
            {
                "pk": _day_partition(at.date()),
                "sk": at.isoformat(),
                "kind": "probe_result",
                "status": readiness.status,
                "failed": readiness.failed,
                # DynamoDB takes numbers as Decimal, never float.
                "components": storable([c.model_dump(mode="json", exclude_none=True) for c in readiness.components]),
                "expires_at": int((at + timedelta(days=PROBE_RETENTION_DAYS)).timestamp()),
            }
        )

    def of_day(self, day: date) -> list[Readiness]:
        """The results checked on ``day``, newest first (``Query`` of the day's partition, every page), without
        those past their ``expires_at`` that the TTL sweeper has not removed yet."""
        items = self._table.query_all(
            partition(_day_partition(day)),
            newest_first=True,
            filter="expires_at > :now",
            values={":now": int(time.time())},
        )
        return [_readiness(item) for item in items]


def _readiness(item: dict[str, Any]) -> Readiness:
    return Readiness(
        status=item["status"],
        checked_at=datetime.fromisoformat(item["sk"]),
        components=[ComponentStatus.model_validate(c) for c in plain(item.get("components", []))],
    )
