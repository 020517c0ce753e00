"""From the table's stream to the delivery queue (decision 0093): each webhook event of a batch becomes one message
per enabled endpoint of its tenant that subscribed to its type. A tenant's endpoints are read once per batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from firstmile.webhooks.events import event_of
from firstmile.webhooks.ports import WebhookStorePort


class Dispatcher:
    def __init__(self, endpoints: WebhookStorePort, enqueue: Callable[[list[dict[str, Any]]], None]) -> None:
        self._endpoints = endpoints
        self._enqueue = enqueue

    def dispatch(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Queue the messages of ``records``; how many."""
        subscribed: dict[str, list[dict[str, Any]]] = {}
        messages: list[dict[str, Any]] = []
        for record in records:
            event = event_of(record)
            if event is None:
                continue
            if event.tenant not in subscribed:
                subscribed[event.tenant] = [e for e in self._endpoints.list(event.tenant) if e.get("enabled")]
            for endpoint in subscribed[event.tenant]:
                if event.type.value not in endpoint.get("event_types", []):
                    continue
                messages.append(
                    {
                        "tenant": event.tenant,
                        "endpoint_id": endpoint["endpoint_id"],
                        "message_id": event.message_id(str(endpoint["endpoint_id"])),
                        "type": event.type.value,
                        "body": event.body(),
                        "created_at": event.at,
                    }
                )
        if messages:
            self._enqueue(messages)
        return len(messages)
