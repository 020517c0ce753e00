"""Webhook endpoints in the table (decision 0093): ``pk = TENANT#<t>#WEBHOOKS``, ``sk = ENDPOINT#<id>``
(``kind = webhook_endpoint``), with the signing secret (and the previous one during a rotation's grace). Every
change is one transaction with its audit entry. A tenant's endpoints are one Query (at most ``MAX_ENDPOINTS``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firstmile.audit.models import AuditEvent
from firstmile.platform.gateway import TableGateway, partition
from firstmile.platform.items import plain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from firstmile.audit.store import AuditStore

_PREFIX = "ENDPOINT#"


def endpoints_partition(tenant: str) -> str:
    return f"TENANT#{tenant}#WEBHOOKS"


def _key(tenant: str, endpoint_id: str) -> dict[str, str]:
    return {"pk": endpoints_partition(tenant), "sk": f"{_PREFIX}{endpoint_id}"}


class WebhookStore:
    """A tenant's endpoints, as plain dicts of their stored fields."""

    def __init__(self, table: Table | TableGateway, *, audit: AuditStore) -> None:
        self._table = TableGateway.of(table)
        self._audit = audit

    def get(self, tenant: str, endpoint_id: str) -> dict[str, Any] | None:
        item = self._table.get(_key(tenant, endpoint_id))
        return _plain(item) if item else None

    def list(self, tenant: str) -> list[dict[str, Any]]:
        items = self._table.query_all(partition(endpoints_partition(tenant)).begins_with(_PREFIX), consistent=True)
        return [_plain(item) for item in items]

    def put(self, tenant: str, endpoint: dict[str, Any], expected_version: int, event: AuditEvent) -> bool:
        """Write ``endpoint`` as the version after ``expected_version`` (0: new), with its audit entry; ``False`` when
        the stored endpoint is not at ``expected_version``."""
        item = {
            **_key(tenant, endpoint["endpoint_id"]),
            "kind": "webhook_endpoint",
            **{k: v for k, v in endpoint.items() if v is not None},
            "tenant": tenant,
            "version": expected_version + 1,
        }
        if expected_version == 0:
            action = self._table.put_new_action(item)
        else:
            action = self._table.put_action(
                item, condition="#v = :v", names={"#v": "version"}, values={":v": expected_version}
            )
        return self._audit.transact([action], event) is None

    def delete(self, tenant: str, endpoint_id: str, expected_version: int, event: AuditEvent) -> bool:
        action = self._table.delete_action(
            _key(tenant, endpoint_id), condition="#v = :v", names={"#v": "version"}, values={":v": expected_version}
        )
        return self._audit.transact([action], event) is None


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in item.items() if k not in ("pk", "sk", "kind")}
