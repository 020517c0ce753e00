"""The webhook store's contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.webhooks import DeliveryLogContract, WebhookStoreContract
from tests.fakes.webhooks import FakeDeliveryLog, FakeWebhookStore


class TestFakeWebhookStoreContract(WebhookStoreContract):
    implementation = FakeWebhookStore

    @pytest.fixture
    def webhooks(self) -> FakeWebhookStore:
        return FakeWebhookStore()


class TestFakeDeliveryLogContract(DeliveryLogContract):
    implementation = FakeDeliveryLog

    @pytest.fixture
    def deliveries(self) -> FakeDeliveryLog:
        return FakeDeliveryLog()
