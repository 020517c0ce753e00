"""Webhook events, their dispatch and their delivery (decision 0093): which stream records are events, one message
per subscribed endpoint, the signed POST verified by the reference library, retries of transient failures only,
a breaker per endpoint, the address checked again at delivery, replays from the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from firstmile.errors import DomainError
from firstmile.platform import resilience
from firstmile.platform.items import attribute
from firstmile.platform.resilience import RetryPolicy
from firstmile.webhooks.delivery import DeliveryFailedError, Sender
from firstmile.webhooks.dispatch import Dispatcher
from firstmile.webhooks.endpoints import WebhookEndpoints
from firstmile.webhooks.events import event_of
from firstmile.webhooks.models import EndpointCreate, EventType
from tests.fakes.webhooks import FakeDeliveryLog, FakeWebhookStore

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
ADDRESSES = {"hooks.example.com": ["93.184.216.34"]}


def inserted(item: dict[str, Any]) -> dict[str, Any]:
    return {"eventName": "INSERT", "dynamodb": {"NewImage": {k: attribute(v) for k, v in item.items()}}}


def onboarding(kind: str, user: str = "u-1", **extra: Any) -> dict[str, Any]:
    return inserted(
        {
            "pk": f"TENANT#t-a#USER#{user}",
            "sk": f"EVENT#{kind}",
            "kind": "onboarding_event",
            "tenant": "t-a",
            "user": user,
            "type": kind,
            "at": "2026-12-04T09:00:00+00:00",
            "flow_id": "welcome",
            "flow_version": 2,
            **extra,
        }
    )


def audited(action: str) -> dict[str, Any]:
    return inserted(
        {
            "pk": "TENANT#t-a#AUDIT",
            "sk": f"ENTRY#{action}",
            "kind": "audit_entry",
            "tenant": "t-a",
            "action": action,
            "actor": "admin:a-1",
            "target": "flag:new-nav",
            "details": {"version": "3"},
            "sequence": 7,
            "at": "2026-12-04T09:00:01+00:00",
        }
    )


def test_stream_records_become_the_webhook_events_admins_subscribe_to() -> None:
    completed = event_of(onboarding("onboarding_completed"))
    assert completed is not None and completed.type is EventType.ONBOARDING_COMPLETED
    assert json.loads(completed.body())["data"] == {"user": "u-1", "flow_id": "welcome", "flow_version": 2}
    step = event_of(onboarding("step_completed", step_id="profile"))
    assert step is not None and step.type is EventType.ONBOARDING_STEP_COMPLETED
    killed, changed, halted = (
        event_of(audited(a)) for a in ("flag.kill_switch.killed", "flag.updated", "flag.rollout.halted")
    )
    assert (killed and killed.type, changed and changed.type, halted and halted.type) == (
        EventType.FLAG_KILLED,
        EventType.FLAG_CHANGED,
        EventType.ROLLOUT_HALTED,
    )
    assert event_of(onboarding("step_started")) is None
    assert event_of(onboarding("onboarding_completed", sample=True)) is None  # generated sample users
    assert event_of(audited("flag.segment.saved")) is None
    assert completed.message_id("whe_1") == completed.message_id("whe_1") != completed.message_id("whe_2")
    assert completed.message_id("whe_1").startswith("msg_20261204090000_")


def endpoints_with(store: FakeWebhookStore, *types: EventType, url: str = "https://hooks.example.com/in") -> str:
    service = WebhookEndpoints(store, allow_loopback=False, clock=lambda: T0, resolver=lambda h, p: ADDRESSES[h])
    return service.create("t-a", "admin:a-1", EndpointCreate(url=url, event_types=list(types))).endpoint.endpoint_id


def test_each_event_is_one_message_per_enabled_endpoint_that_subscribed_to_it() -> None:
    store = FakeWebhookStore()
    flags = endpoints_with(store, EventType.FLAG_CHANGED)
    both = endpoints_with(store, EventType.FLAG_CHANGED, EventType.ONBOARDING_COMPLETED)
    queued: list[dict[str, Any]] = []

    count = Dispatcher(store, queued.extend).dispatch(
        [onboarding("onboarding_completed"), audited("flag.updated"), onboarding("step_started")]
    )

    assert count == 3
    assert sorted((m["endpoint_id"], m["type"]) for m in queued) == sorted(
        [(both, "onboarding.completed"), (flags, "flag.changed"), (both, "flag.changed")]
    )


class Endpoint:
    """A receiving endpoint: answers from a script, keeps what it got."""

    def __init__(self, *statuses: int | OSError) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []

    def __call__(self, url: str, address: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
        self.received.append((url, address, headers, body))
        answer = self.statuses[min(len(self.received), len(self.statuses)) - 1]
        if isinstance(answer, OSError):
            raise answer
        return answer


@pytest.fixture(autouse=True)
def _fresh_breakers() -> None:
    resilience.reset_breakers()


def sender(
    store: FakeWebhookStore, log: FakeDeliveryLog, endpoint: Endpoint, addresses: dict[str, list[str]] | None = None
) -> Sender:
    resolved = addresses or ADDRESSES
    return Sender(
        store,
        log,
        allow_loopback=False,
        clock=lambda: datetime.now(UTC),
        post=endpoint,
        resolver=lambda h, p: resolved[h],
        policy=RetryPolicy(base_seconds=0),
        sleep=lambda _s: None,
    )


def queued_message(store: FakeWebhookStore, endpoint_id: str) -> dict[str, Any]:
    queued: list[dict[str, Any]] = []
    Dispatcher(store, queued.extend).dispatch([audited("flag.updated")])
    return next(m for m in queued if m["endpoint_id"] == endpoint_id)


def test_a_delivery_is_signed_so_the_reference_library_verifies_it_and_sent_to_the_checked_address() -> None:
    store, log, endpoint = FakeWebhookStore(), FakeDeliveryLog(), Endpoint(204)
    endpoint_id = endpoints_with(store, EventType.FLAG_CHANGED)
    message = queued_message(store, endpoint_id)

    assert sender(store, log, endpoint).deliver(message) == "delivered"

    [(url, address, headers, body)] = endpoint.received
    secret = store.endpoints[("t-a", endpoint_id)]["secret"]
    assert (url, address) == ("https://hooks.example.com/in", "93.184.216.34")
    assert Webhook(secret).verify(body, headers)["type"] == "flag.changed"
    assert headers["webhook-id"] == message["message_id"]
    assert log.get("t-a", endpoint_id, message["message_id"])["state"] == "delivered"  # type: ignore[index]


def test_transient_failures_are_retried_and_a_refusal_is_not() -> None:
    store, log = FakeWebhookStore(), FakeDeliveryLog()
    endpoint_id = endpoints_with(store, EventType.FLAG_CHANGED)
    message = queued_message(store, endpoint_id)

    flaky = Endpoint(503, ConnectionResetError(), 200)
    assert sender(store, log, flaky).deliver(message) == "delivered" and len(flaky.received) == 3

    refusing = Endpoint(400)
    with pytest.raises(DeliveryFailedError):
        sender(store, log, refusing).deliver(message)
    assert len(refusing.received) == 1
    logged = log.get("t-a", endpoint_id, message["message_id"])
    assert logged is not None and (logged["state"], logged["last_status"], logged["attempts"]) == ("failed", 400, 2)


def test_an_endpoint_that_keeps_failing_is_not_called_while_its_breaker_is_open() -> None:
    store, log, down = FakeWebhookStore(), FakeDeliveryLog(), Endpoint(500)
    endpoint_id = endpoints_with(store, EventType.FLAG_CHANGED)
    message = queued_message(store, endpoint_id)
    for _ in range(5):
        with pytest.raises(DeliveryFailedError):
            sender(store, log, down).deliver(message)
    calls = len(down.received)

    with pytest.raises(DeliveryFailedError, match="circuit breaker"):
        sender(store, log, down).deliver(message)
    assert len(down.received) == calls


def test_a_name_that_now_resolves_to_a_private_address_is_not_followed() -> None:
    store, log, endpoint = FakeWebhookStore(), FakeDeliveryLog(), Endpoint(200)
    endpoint_id = endpoints_with(store, EventType.FLAG_CHANGED)
    rebound = {"hooks.example.com": ["10.0.0.9"]}

    with pytest.raises(DeliveryFailedError, match="not a public address"):
        sender(store, log, endpoint, rebound).deliver(queued_message(store, endpoint_id))
    assert endpoint.received == []


def test_a_disabled_endpoint_is_skipped_and_a_logged_delivery_can_be_replayed() -> None:
    store, log, endpoint = FakeWebhookStore(), FakeDeliveryLog(), Endpoint(200)
    endpoint_id = endpoints_with(store, EventType.FLAG_CHANGED)
    message = queued_message(store, endpoint_id)
    sender(store, log, endpoint).deliver(message)
    queued: list[dict[str, Any]] = []
    service = WebhookEndpoints(
        store, allow_loopback=False, clock=lambda: T0, log=log, enqueue=queued.extend, audit=store.audit
    )

    answer = service.replay("t-a", "admin:a-1", endpoint_id, message["message_id"])

    assert (answer.status, queued) == ("queued", [message])
    assert service.deliveries("t-a", endpoint_id, limit=10, cursor=None).items[0].replays == 1
    with pytest.raises(DomainError) as missing:
        service.replay("t-a", "admin:a-1", endpoint_id, "msg_20261204090000_" + "0" * 20)
    assert missing.value.code == "RES_DELIVERY_NOT_FOUND"

    store.endpoints[("t-a", endpoint_id)]["enabled"] = False
    assert sender(store, log, endpoint).deliver(message) == "skipped"
