"""The webhook store's contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.webhooks import WebhookStoreContract
from tests.fakes.webhooks import FakeWebhookStore


class TestFakeWebhookStoreContract(WebhookStoreContract):
    implementation = FakeWebhookStore

    @pytest.fixture
    def webhooks(self) -> FakeWebhookStore:
        return FakeWebhookStore()
