"""The contract of ``WebhookStorePort``: endpoints per tenant, written at a version with their audit entry."""

from __future__ import annotations

from typing import Any, ClassVar

from firstmile.audit.models import AuditEvent
from firstmile.webhooks.ports import WebhookStorePort


def endpoint(endpoint_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "url": "https://hooks.example.com/in",
        "event_types": ["flag.changed"],
        "description": "",
        "enabled": True,
        "created_at": "2026-12-04T09:00:00+00:00",
        "updated_at": "2026-12-04T09:00:00+00:00",
        "secret": "whsec_c2VjcmV0",
        **fields,
    }


def event(tenant: str, action: str = "webhook.created") -> AuditEvent:
    return AuditEvent(tenant=tenant, actor="admin:a-1", action=action, target="webhook:x")


class WebhookStoreContract:
    """Subclasses provide ``webhooks``: a store over an empty table."""

    implementation: ClassVar[type]

    def test_an_endpoint_is_written_at_versions_and_kept_per_tenant(self, webhooks: WebhookStorePort) -> None:
        assert webhooks.put("t-a", endpoint("whe_1"), 0, event("t-a"))
        assert not webhooks.put("t-a", endpoint("whe_1"), 0, event("t-a"))  # exists already
        assert webhooks.put("t-a", endpoint("whe_1", enabled=False), 1, event("t-a", "webhook.updated"))
        assert not webhooks.put("t-a", endpoint("whe_1"), 1, event("t-a", "webhook.updated"))  # stale
        stored = webhooks.get("t-a", "whe_1")
        assert stored is not None and (stored["enabled"], stored["version"]) == (False, 2)
        assert webhooks.get("t-b", "whe_1") is None
        assert webhooks.put("t-b", endpoint("whe_2"), 0, event("t-b"))
        assert [e["endpoint_id"] for e in webhooks.list("t-a")] == ["whe_1"]

    def test_a_delete_needs_the_current_version(self, webhooks: WebhookStorePort) -> None:
        webhooks.put("t-a", endpoint("whe_1"), 0, event("t-a"))
        assert not webhooks.delete("t-a", "whe_1", 2, event("t-a", "webhook.deleted"))
        assert webhooks.delete("t-a", "whe_1", 1, event("t-a", "webhook.deleted"))
        assert webhooks.get("t-a", "whe_1") is None and webhooks.list("t-a") == []
