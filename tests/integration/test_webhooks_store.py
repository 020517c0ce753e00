"""The webhook store against the table engine."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.audit.store import AuditStore
from firstmile.webhooks.store import WebhookStore
from tests.contracts.webhooks import WebhookStoreContract


class TestWebhookStoreContract(WebhookStoreContract):
    implementation = WebhookStore

    @pytest.fixture
    def webhooks(self, table: Any) -> WebhookStore:
        return WebhookStore(table, audit=AuditStore(table))
