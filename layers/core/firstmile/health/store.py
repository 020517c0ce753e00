"""The dependency checks against real AWS resources, and where probe results are kept.

Key formats of the health items (see docs/data-model.md):
- probe result: ``pk = PROBE#<yyyy-mm-dd>``, ``sk = <ISO-8601 time>``, expires after ``PROBE_RETENTION_DAYS``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from firstmile.config import Settings
from firstmile.health.logic import DependencyCheck
from firstmile.health.models import Readiness
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway

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


def record_probe_result(table: Table | TableGateway, readiness: Readiness) -> None:
    """Keep one probe result; the SLA views read them by day."""
    at = readiness.checked_at
    TableGateway.of(table).put(
        {
            "pk": f"PROBE#{at.date().isoformat()}",
            "sk": at.isoformat(),
            "kind": "probe_result",
            "status": readiness.status,
            "failed": readiness.failed,
            # DynamoDB takes numbers as Decimal, never float.
            "components": json.loads(
                json.dumps([c.model_dump(mode="json", exclude_none=True) for c in readiness.components]),
                parse_float=Decimal,
            ),
            "expires_at": int((at + timedelta(days=PROBE_RETENTION_DAYS)).timestamp()),
        }
    )
