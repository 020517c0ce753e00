"""The delivery log (decision 0093): one item per message and endpoint, ``pk = TENANT#<t>#WEBHOOK#<endpoint id>``,
``sk = DELIVERY#<message id>`` (ids begin with the change's time: newest first is a reverse Query), holding the body
(for a replay), the state, the attempts, the last answer and when. Kept 30 days."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from firstmile.model import Model
from firstmile.platform.gateway import TableGateway, partition
from firstmile.platform.items import plain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RETENTION = timedelta(days=30)
MESSAGE_ID_PATTERN = r"^msg_[0-9]{14}_[0-9a-f]{20}$"
DeliveryState = Literal["pending", "delivered", "failed", "skipped"]


class Delivery(Model):
    message_id: str
    type: str
    state: DeliveryState
    attempts: int = Field(description="Tries so far, across redeliveries and replays")
    last_status: int | None = Field(default=None, description="The endpoint's last HTTP status")
    last_error: str | None = Field(default=None, description="Why the last try failed, when it did")
    last_attempt_at: datetime | None = None
    created_at: datetime
    replays: int = 0


class Replayed(Model):
    status: Literal["queued"]
    message_id: str


class DeliveryPage(Model):
    items: list[Delivery]
    next_cursor: str | None = None


def log_partition(tenant: str, endpoint_id: str) -> str:
    return f"TENANT#{tenant}#WEBHOOK#{endpoint_id}"


class DeliveryLog:
    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def _key(self, tenant: str, endpoint_id: str, message_id: str) -> dict[str, str]:
        return {"pk": log_partition(tenant, endpoint_id), "sk": f"DELIVERY#{message_id}"}

    def attempt(
        self,
        tenant: str,
        endpoint_id: str,
        message: dict[str, Any],
        state: DeliveryState,
        at: datetime,
        *,
        status: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record one try of ``message`` (made on the first): its outcome, and one more attempt."""
        names = {
            "#kind": "kind",
            "#type": "type",
            "#body": "body",
            "#state": "state",
            "#at": "last_attempt_at",
            "#created": "created_at",
            "#expires": "expires_at",
            "#status": "last_status",
            "#error": "last_error",
            "#attempts": "attempts",
            "#mid": "message_id",
        }
        values = {
            ":kind": "webhook_delivery",
            ":type": message["type"],
            ":body": message["body"],
            ":state": state,
            ":at": at.isoformat(),
            ":created": message["created_at"],
            ":expires": int((at + RETENTION).timestamp()),
            ":status": status if status is not None else 0,
            ":error": (error or "")[:500],
            ":one": 1,
            ":mid": message["message_id"],
        }
        self._table.update_if(
            self._key(tenant, endpoint_id, message["message_id"]),
            "SET #kind = :kind, #type = :type, #body = :body, #state = :state, #at = :at, #mid = :mid, "
            "#created = if_not_exists(#created, :created), #expires = :expires, #status = :status, #error = :error "
            "ADD #attempts :one",
            names=names,
            values=values,
        )

    def get(self, tenant: str, endpoint_id: str, message_id: str) -> dict[str, Any] | None:
        item = self._table.get(self._key(tenant, endpoint_id, message_id))
        return {k: plain(v) for k, v in item.items()} if item else None

    def mark_replayed(self, tenant: str, endpoint_id: str, message_id: str) -> None:
        self._table.update_if(
            self._key(tenant, endpoint_id, message_id),
            "SET #state = :pending ADD #replays :one",
            condition="attribute_exists(pk)",
            names={"#state": "state", "#replays": "replays"},
            values={":pending": "pending", ":one": 1},
        )

    def page(self, tenant: str, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        scope = log_partition(tenant, endpoint_id)
        items, next_cursor = self._table.query_page(
            partition(scope).begins_with("DELIVERY#"), limit=limit, cursor=cursor, scope=scope, newest_first=True
        )
        return DeliveryPage(items=[delivery_of(item) for item in items], next_cursor=next_cursor)


def delivery_of(item: dict[str, Any]) -> Delivery:
    fields = {k: plain(v) for k, v in item.items() if k in Delivery.model_fields}
    fields["last_status"] = fields.get("last_status") or None
    fields["last_error"] = fields.get("last_error") or None
    return Delivery.model_validate(fields)
