"""In-memory webhook endpoints."""

from __future__ import annotations

import copy
from typing import Any

from firstmile.audit.models import AuditEvent
from tests.fakes.audit import AuditedFake, FakeAuditLog


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
