"""Registering webhook endpoints (decision 0093): the address rules at registration, the secret shown once,
rotation with both secrets signing during the grace period, the limit, every change audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firstmile.errors import DomainError
from firstmile.webhooks.endpoints import WebhookEndpoints, signing_secrets
from firstmile.webhooks.models import MAX_ENDPOINTS, EndpointCreate, EndpointUpdate, EventType
from tests.fakes.webhooks import FakeWebhookStore

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
PUBLIC = {"hooks.example.com": ["93.184.216.34"], "internal.example.com": ["10.1.2.3"], "127.0.0.1": ["127.0.0.1"]}


def service(store: FakeWebhookStore, *, allow_loopback: bool = False, now: datetime = T0) -> WebhookEndpoints:
    return WebhookEndpoints(store, allow_loopback=allow_loopback, clock=lambda: now, resolver=lambda h, p: PUBLIC[h])


def created(url: str = "https://hooks.example.com/in") -> EndpointCreate:
    return EndpointCreate(url=url, event_types=[EventType.FLAG_CHANGED, EventType.ONBOARDING_COMPLETED])


def test_an_endpoint_is_registered_with_a_secret_shown_once_and_audited() -> None:
    store = FakeWebhookStore()
    endpoints = service(store)

    answer = endpoints.create("t-a", "admin:a-1", created())

    assert answer.secret.startswith("whsec_")
    assert answer.endpoint.event_types == [EventType.FLAG_CHANGED, EventType.ONBOARDING_COMPLETED]
    read = endpoints.get("t-a", answer.endpoint.endpoint_id)
    assert "secret" not in read.model_dump() and read.enabled
    assert [e.action for e in store.audit.list_entries("t-a", limit=5).items] == ["webhook.created"]
    assert endpoints.list("t-a").total == 1 and endpoints.list("t-b").total == 0


@pytest.mark.parametrize("url", ["https://internal.example.com/in", "http://127.0.0.1:8088/hook", "ftp://x/y"])
def test_an_endpoint_at_a_private_or_loopback_address_is_refused_when_deployed(url: str) -> None:
    with pytest.raises(DomainError) as refused:
        service(FakeWebhookStore()).create("t-a", "admin:a-1", created(url))
    assert refused.value.code == "VAL_WEBHOOK_URL_REFUSED"
    assert refused.value.fields[0].location == "body.url"


def test_the_local_stack_may_send_to_this_machine_but_not_to_a_private_network() -> None:
    local = service(FakeWebhookStore(), allow_loopback=True)
    assert local.create("t-a", "admin:a-1", created("http://127.0.0.1:8088/hook")).endpoint.url.startswith("http://")
    with pytest.raises(DomainError):
        local.create("t-a", "admin:a-1", created("https://internal.example.com/in"))


def test_a_rotated_secret_signs_next_to_the_previous_one_until_the_grace_period_ends() -> None:
    store = FakeWebhookStore()
    first = service(store).create("t-a", "admin:a-1", created())
    endpoint_id = first.endpoint.endpoint_id

    rotated = service(store).rotate_secret("t-a", "admin:a-1", endpoint_id)

    stored = store.get("t-a", endpoint_id)
    assert stored is not None and rotated.secret != first.secret
    assert signing_secrets(stored, T0 + timedelta(hours=23)) == [rotated.secret, first.secret]
    assert signing_secrets(stored, T0 + timedelta(hours=25)) == [rotated.secret]
    assert rotated.endpoint.previous_secret_expires_at == T0 + timedelta(hours=24)


def test_an_update_checks_a_new_url_and_a_delete_removes_the_endpoint() -> None:
    store = FakeWebhookStore()
    endpoints = service(store)
    endpoint_id = endpoints.create("t-a", "admin:a-1", created()).endpoint.endpoint_id

    with pytest.raises(DomainError):
        endpoints.update("t-a", "admin:a-1", endpoint_id, EndpointUpdate(url="https://internal.example.com/x"))
    updated = endpoints.update("t-a", "admin:a-1", endpoint_id, EndpointUpdate(enabled=False))
    assert not updated.enabled and updated.url == "https://hooks.example.com/in"

    endpoints.delete("t-a", "admin:a-1", endpoint_id)
    with pytest.raises(DomainError) as gone:
        endpoints.get("t-a", endpoint_id)
    assert gone.value.code == "RES_WEBHOOK_NOT_FOUND"
    actions = [e.action for e in store.audit.list_entries("t-a", limit=10).items]
    assert sorted(actions) == ["webhook.created", "webhook.deleted", "webhook.updated"]


def test_a_tenant_registers_at_most_twenty_endpoints() -> None:
    endpoints = service(FakeWebhookStore())
    for _ in range(MAX_ENDPOINTS):
        endpoints.create("t-a", "admin:a-1", created())
    with pytest.raises(DomainError) as refused:
        endpoints.create("t-a", "admin:a-1", created())
    assert refused.value.code == "BIZ_WEBHOOK_LIMIT"
