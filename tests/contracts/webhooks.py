"""The contract of ``WebhookStorePort``: endpoints per tenant, written at a version with their audit entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from firstmile.audit.models import AuditEvent
from firstmile.webhooks.ports import DeliveryLogPort, WebhookStorePort


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


def message(n: int) -> dict[str, Any]:
    return {
        "message_id": f"msg_2026120409000{n}_{'0' * 19}{n}",
        "type": "flag.changed",
        "body": '{"type":"flag.changed"}',
        "created_at": f"2026-12-04T09:00:0{n}+00:00",
    }


class DeliveryLogContract:
    """Subclasses provide ``deliveries``: a log over an empty table."""

    implementation: ClassVar[type]

    def test_each_try_is_counted_on_one_item_and_listed_newest_first(self, deliveries: DeliveryLogPort) -> None:
        at = datetime(2026, 12, 4, 9, 1, tzinfo=UTC)
        deliveries.attempt("t-a", "whe_1", message(1), "failed", at, status=503, error="busy")
        deliveries.attempt("t-a", "whe_1", message(1), "delivered", at, status=204)
        deliveries.attempt("t-a", "whe_1", message(2), "skipped", at)
        deliveries.attempt("t-b", "whe_1", message(3), "delivered", at, status=200)

        page = deliveries.page("t-a", "whe_1", limit=10, cursor=None)
        assert [(d.message_id, d.state, d.attempts) for d in page.items] == [
            (message(2)["message_id"], "skipped", 1),
            (message(1)["message_id"], "delivered", 2),
        ]
        assert page.items[1].last_status == 204 and page.items[0].last_status is None
        stored = deliveries.get("t-a", "whe_1", message(1)["message_id"])
        assert stored is not None and stored["body"] == message(1)["body"]
        deliveries.mark_replayed("t-a", "whe_1", message(1)["message_id"])
        replayed = deliveries.page("t-a", "whe_1", limit=1, cursor=None)
        assert replayed.next_cursor is not None
        second = deliveries.page("t-a", "whe_1", limit=1, cursor=replayed.next_cursor).items[0]
        assert (second.state, second.replays) == ("pending", 1)
