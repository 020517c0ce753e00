"""Webhooks (issue 14): the admins' endpoints, the stream consumer that turns changes into messages, and the worker
that signs and sends them (decision 0093)."""

from __future__ import annotations

from functools import partial

from firstmile.platform.resources import WEBHOOK_DELIVERIES_QUEUE
from firstmile.webhooks.events import KINDS
from functions.catalog.model import Access, Function, Queue, TableStream, http_function

STACK = "webhooks"
_ENDPOINT = "/v1/admin/webhooks/{endpoint_id}"
_admin = partial(http_function, domain="webhooks", stack=STACK, role="admin")

FUNCTIONS: tuple[Function, ...] = (
    _admin(
        "admin_webhook_create",
        "POST",
        "/v1/admin/webhooks",
        "Registers an endpoint for event types; answers its signing secret once.",
        table="write",
    ),
    _admin("admin_webhooks_list", "GET", "/v1/admin/webhooks", "The tenant's webhook endpoints.", table="read"),
    _admin("admin_webhook_get", "GET", _ENDPOINT, "One webhook endpoint.", table="read"),
    _admin("admin_webhook_update", "PATCH", _ENDPOINT, "Changes an endpoint's URL, events or state.", table="write"),
    _admin("admin_webhook_delete", "DELETE", _ENDPOINT, "Removes a webhook endpoint.", table="write"),
    _admin(
        "admin_webhook_rotate_secret",
        "POST",
        f"{_ENDPOINT}/rotate-secret",
        "A new signing secret; the previous one signs too for 24 hours.",
        table="write",
    ),
    _admin(
        "admin_webhook_deliveries",
        "GET",
        f"{_ENDPOINT}/deliveries",
        "An endpoint's delivery log, newest first.",
        table="read",
    ),
    _admin(
        "admin_webhook_replay",
        "POST",
        f"{_ENDPOINT}/deliveries/{{message_id}}/replay",
        "Sends a logged message again.",
        table="write",
        sends_to=(WEBHOOK_DELIVERIES_QUEUE,),
    ),
    Function(
        name="webhook_dispatcher",
        domain="webhooks",
        stack=STACK,
        description="Turns each webhook event of the table's stream into a message per subscribed endpoint.",
        trigger=TableStream(batch_size=100, retry_attempts=5, max_batching_window_seconds=1, inserts_of=KINDS),
        timeout_seconds=30,
        access=Access(table="read", sends_to=(WEBHOOK_DELIVERIES_QUEUE,)),
    ),
    Function(
        name="webhook_delivery_worker",
        domain="webhooks",
        stack=STACK,
        description="Signs and sends each webhook message to its endpoint, with retries and a breaker per endpoint.",
        # Each message may take three tries of 5 s: five a batch stays well inside the timeout.
        trigger=Queue(WEBHOOK_DELIVERIES_QUEUE, batch_size=5, max_batching_window_seconds=1),
        timeout_seconds=90,
        access=Access(table="write"),
    ),
)
