"""In-memory webhook endpoints and delivery log."""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

from firstmile.audit.models import AuditEvent
from firstmile.webhooks.deliveries import DeliveryPage, DeliveryState, delivery_of, log_partition
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.faults import Faults
from tests.fakes.paging import page_of


class FakeWebhookStore(AuditedFake):
    """``WebhookStorePort`` in memory; a change appends its audit entry under the audit log's lock."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self.endpoints: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, tenant: str, endpoint_id: str) -> dict[str, Any] | None:
        self.faults.enter("get")
        with self._lock:
            found = self.endpoints.get((tenant, endpoint_id))
            return copy.deepcopy(found) if found else None

    def list(self, tenant: str) -> list[dict[str, Any]]:
        self.faults.enter("list")
        with self._lock:
            return [copy.deepcopy(v) for (t, _), v in sorted(self.endpoints.items()) if t == tenant]

    def put(self, tenant: str, endpoint: dict[str, Any], expected_version: int, event: AuditEvent) -> bool:
        self.faults.enter("put")
        with self._lock:
            key = (tenant, endpoint["endpoint_id"])
            stored = self.endpoints.get(key)
            if (stored["version"] if stored else 0) != expected_version:
                return False
            written = {k: v for k, v in endpoint.items() if v is not None}
            self.endpoints[key] = {**copy.deepcopy(written), "tenant": tenant, "version": expected_version + 1}
            self.audit.record(event)
            return True

    def delete(self, tenant: str, endpoint_id: str, expected_version: int, event: AuditEvent) -> bool:
        self.faults.enter("delete")
        with self._lock:
            stored = self.endpoints.get((tenant, endpoint_id))
            if stored is None or stored["version"] != expected_version:
                return False
            del self.endpoints[(tenant, endpoint_id)]
            self.audit.record(event)
            return True


class FakeDeliveryLog:
    """``DeliveryLogPort`` in memory."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

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
        self.faults.enter("attempt")
        with self._lock:
            key = (tenant, endpoint_id, message["message_id"])
            before = self.items.get(key, {})
            self.items[key] = {
                **before,
                "message_id": message["message_id"],
                "type": message["type"],
                "body": message["body"],
                "state": state,
                "created_at": before.get("created_at", message["created_at"]),
                "last_attempt_at": at.isoformat(),
                "last_status": status or 0,
                "last_error": (error or "")[:500],
                "attempts": before.get("attempts", 0) + 1,
            }

    def get(self, tenant: str, endpoint_id: str, message_id: str) -> dict[str, Any] | None:
        self.faults.enter("get")
        with self._lock:
            found = self.items.get((tenant, endpoint_id, message_id))
            return copy.deepcopy(found) if found else None

    def mark_replayed(self, tenant: str, endpoint_id: str, message_id: str) -> None:
        self.faults.enter("mark_replayed")
        with self._lock:
            item = self.items.get((tenant, endpoint_id, message_id))
            if item is not None:
                item["state"] = "pending"
                item["replays"] = item.get("replays", 0) + 1

    def page(self, tenant: str, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        self.faults.enter("page")
        scope = log_partition(tenant, endpoint_id)
        with self._lock:
            mine = [copy.deepcopy(v) for (t, e, _), v in self.items.items() if (t, e) == (tenant, endpoint_id)]
        mine.sort(key=lambda item: str(item["message_id"]), reverse=True)
        chosen, next_cursor = page_of(
            mine, lambda item: str(item["message_id"]), scope=scope, limit=limit, cursor=cursor, descending=True
        )
        return DeliveryPage(items=[delivery_of(item) for item in chosen], next_cursor=next_cursor)
