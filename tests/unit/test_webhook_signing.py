"""Webhook signatures and addresses (decision 0093): Firstmile's signing checked against the Standard Webhooks
reference library and the example receiver (a replayed or altered delivery refused), secret rotation, and the SSRF
rules for endpoint URLs, before and after DNS resolution."""

from __future__ import annotations

import importlib.util
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from standardwebhooks.webhooks import Webhook

from firstmile.webhooks.addresses import EndpointRefusedError, allowed, checked_addresses
from firstmile.webhooks.signing import SignatureError, new_secret, signature, signed_headers, verify

RECEIVER = Path(__file__).resolve().parents[2] / "docs" / "webhooks" / "receiver.py"
BODY = json.dumps({"type": "onboarding.completed", "data": {"user_id": "u-1"}}).encode()


def receiver_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_receiver", RECEIVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_delivery_signed_by_firstmile_verifies_with_the_reference_library_and_the_signatures_agree() -> None:
    secret = new_secret()
    now = int(time.time())
    headers = signed_headers([secret], "msg_1", now, BODY)

    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    reference = Webhook(secret).sign("msg_1", datetime.fromtimestamp(now, UTC), BODY.decode())
    assert headers["webhook-signature"] == reference == signature(secret, "msg_1", now, BODY)
    assert verify(secret, headers, BODY, now) == "msg_1"


def test_the_example_receiver_accepts_a_delivery_once_and_refuses_a_replay_an_alteration_and_an_old_one() -> None:
    secret = new_secret()
    receiver = receiver_module().Receiver(secret)
    now = int(time.time())
    headers = signed_headers([secret], "msg_2", now, BODY)

    assert receiver.receive(headers, BODY, now)[0] == 204
    assert receiver.receive(headers, BODY, now + 1)[0] == 409  # replayed within the window
    altered = BODY.replace(b"u-1", b"u-2")
    assert receiver.receive(signed_headers([secret], "msg_3", now, BODY), altered, now)[0] == 400
    old = signed_headers([secret], "msg_4", now - 600, BODY)  # replayed ten minutes later
    assert receiver.receive(old, BODY, now)[0] == 400
    other = signed_headers([new_secret()], "msg_5", now, BODY)
    assert receiver.receive(other, BODY, now)[0] == 400


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    now = int(time.time())
    headers = signed_headers([new, old], "msg_6", now, BODY)

    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert verify(secret, headers, BODY, now) == "msg_6"
        assert Webhook(secret).verify(BODY, headers)
    with pytest.raises(SignatureError):
        verify(new_secret(), headers, BODY, now)
    with pytest.raises(SignatureError):
        verify(new, {**headers, "webhook-timestamp": str(now - 301)}, BODY, now)
    with pytest.raises(SignatureError):
        verify(new, {"webhook-id": "msg_6"}, BODY, now)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "not-an-address",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert not allowed(address, allow_loopback=False)


def test_public_addresses_pass_and_loopback_only_where_allowed() -> None:
    assert allowed("93.184.216.34", allow_loopback=False)
    assert allowed("2606:2800:220:1:248:1893:25c8:1946", allow_loopback=False)
    assert allowed("127.0.0.1", allow_loopback=True) and allowed("::1", allow_loopback=True)
    assert not allowed("10.0.0.5", allow_loopback=True)


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]  # one public answer, one private: refused

    with pytest.raises(EndpointRefusedError, match="10.0.0.7"):
        checked_addresses("https://hooks.example.com/in", allow_loopback=False, resolver=rebinding)
    assert checked_addresses(
        "https://hooks.example.com/in", allow_loopback=False, resolver=lambda h, p: ["93.184.216.34"]
    ) == ["93.184.216.34"]
    with pytest.raises(EndpointRefusedError):
        checked_addresses("http://hooks.example.com/in", allow_loopback=False, resolver=lambda h, p: ["93.184.216.34"])
    with pytest.raises(EndpointRefusedError):
        checked_addresses("https://user:pw@hooks.example.com/", allow_loopback=False, resolver=lambda h, p: ["1.1.1.1"])
    local = checked_addresses("http://127.0.0.1:8088/hook", allow_loopback=True, resolver=lambda h, p: ["127.0.0.1"])
    assert local == ["127.0.0.1"]
