"""Webhooks over the running stack (decision 0093): an admin registers an endpoint on this machine, a flag change
reaches it through the table's stream, the dispatcher, the delivery queue and the worker, signed so the example
receiver (docs/webhooks/receiver.py, the Standard Webhooks reference library) accepts it; a replay from the delivery
log carries the same id, and the receiver refuses it."""

from __future__ import annotations

import importlib.util
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import RunningStack, TenantTokens, call, free_port, tenant_with_tokens, until

pytestmark = pytest.mark.e2e

RECEIVER = Path(__file__).resolve().parents[2] / "docs" / "webhooks" / "receiver.py"
# The stream's batching window, the dispatcher's and the worker's cold starts on a loaded machine.
DELIVERED_TIMEOUT_SECONDS = 90.0


class Inbox:
    """The example receiver behind a local HTTP server; what it answered, in order."""

    def __init__(self) -> None:
        spec = importlib.util.spec_from_file_location("webhook_receiver", RECEIVER)
        assert spec is not None and spec.loader is not None
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.receiver: Any = None
        self.answers: list[tuple[int, str]] = []
        self.port = free_port()

    def serve(self) -> ThreadingHTTPServer:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, reason = (
                    inbox.receiver.receive(dict(self.headers.items()), body) if inbox.receiver else (503, "not yet")
                )
                inbox.answers.append((status, reason))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    server = box.serve()
    yield box
    server.shutdown()


@pytest.fixture(scope="module")
def tenant(stack: RunningStack) -> TenantTokens:
    return tenant_with_tokens(stack, f"e2e-webhooks-{uuid.uuid4().hex[:6]}")


def test_a_flag_change_is_delivered_signed_to_the_example_receiver_and_a_replay_is_refused(
    stack: RunningStack, tenant: TenantTokens, inbox: Inbox
) -> None:
    admin = {"Authorization": f"Bearer {tenant.admin}"}
    # Given an endpoint on this machine (the local stack allows loopback) for flag changes
    registered = call(
        stack.url("/v1/admin/webhooks"),
        "POST",
        admin,
        {"url": f"http://127.0.0.1:{inbox.port}/hook", "event_types": ["flag.changed"]},
    )
    assert registered.status == 201, registered.body
    endpoint, secret = registered.json()["endpoint"], registered.json()["secret"]
    inbox.receiver = inbox.module.Receiver(secret)
    # ...and an endpoint at a private address, refused even here (only this machine is allowed locally)
    private = call(
        stack.url("/v1/admin/webhooks"),
        "POST",
        admin,
        {"url": "https://10.0.0.7/hook", "event_types": ["flag.changed"]},
    )
    assert (private.status, private.json()["code"]) == (422, "VAL_WEBHOOK_URL_REFUSED")

    # When a flag is created
    key = f"e2e-hook-{uuid.uuid4().hex[:8]}"
    flag = {"key": key, "description": "webhook", "enabled": True, "fallthrough": {"value": True}}
    assert call(stack.url("/v1/admin/feature-flags"), "POST", admin, flag).status == 201

    # Then the receiver accepted one signed delivery of it, and the log says so
    until(
        "the delivery",
        lambda: inbox.answers,
        lambda answers: any(s == 204 for s, _ in answers),
        DELIVERED_TIMEOUT_SECONDS,
    )
    assert [s for s, _ in inbox.answers] == [204], inbox.answers
    path = f"/v1/admin/webhooks/{endpoint['endpoint_id']}/deliveries"
    [delivery] = until(
        "the log", lambda: call(stack.url(path), "GET", admin).json()["items"], bool, DELIVERED_TIMEOUT_SECONDS
    )
    assert (delivery["type"], delivery["state"], delivery["last_status"], delivery["attempts"]) == (
        "flag.changed",
        "delivered",
        204,
        1,
    )

    # When an admin replays it, the same message (its id) reaches the receiver again, which refuses it as a replay
    replayed = call(stack.url(f"{path}/{delivery['message_id']}/replay"), "POST", admin, {})
    assert replayed.status == 200, replayed.body
    assert replayed.json() == {"status": "queued", "message_id": delivery["message_id"]}
    until("the replay", lambda: inbox.answers, lambda answers: len(answers) >= 2, DELIVERED_TIMEOUT_SECONDS)
    status, reason = inbox.answers[1]
    assert status == 409 and delivery["message_id"] in reason
    logged = until(
        "the replay logged",
        lambda: call(stack.url(path), "GET", admin).json()["items"][0],
        lambda item: item["attempts"] >= 2,
        DELIVERED_TIMEOUT_SECONDS,
    )
    assert (logged["state"], logged["last_status"], logged["replays"]) == ("failed", 409, 1)
