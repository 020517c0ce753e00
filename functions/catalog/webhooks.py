"""Webhooks (issue 14): the admins' endpoints (decision 0093). Deliveries come with the delivery worker."""

from __future__ import annotations

from functools import partial

from functions.catalog.model import Function, http_function

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
)
