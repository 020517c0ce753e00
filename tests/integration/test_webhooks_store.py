"""The webhook store and the delivery log against the table engine."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.audit.store import AuditStore
from firstmile.webhooks.deliveries import DeliveryLog
from firstmile.webhooks.store import WebhookStore
from tests.contracts.webhooks import DeliveryLogContract, WebhookStoreContract


class TestWebhookStoreContract(WebhookStoreContract):
    implementation = WebhookStore

    @pytest.fixture
    def webhooks(self, table: Any) -> WebhookStore:
        return WebhookStore(table, audit=AuditStore(table))


class TestDeliveryLogContract(DeliveryLogContract):
    implementation = DeliveryLog

    @pytest.fixture
    def deliveries(self, table: Any) -> DeliveryLog:
        return DeliveryLog(table)
