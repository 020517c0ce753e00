"""What webhooks need of storage: ``WebhookStore`` implements it, and so does the unit tests' fake; both pass the
same contract suite (tests/contracts/webhooks.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from firstmile.audit.models import AuditEvent
    from firstmile.webhooks.deliveries import DeliveryPage, DeliveryState


class WebhookStorePort(Protocol):
    def get(self, tenant: str, endpoint_id: str) -> dict[str, Any] | None: ...

    def list(self, tenant: str) -> list[dict[str, Any]]: ...

    def put(self, tenant: str, endpoint: dict[str, Any], expected_version: int, event: AuditEvent) -> bool:
        """Write ``endpoint`` as the version after ``expected_version`` (0: new) with ``event``'s entry; ``False``
        when the stored endpoint is not at that version."""
        ...

    def delete(self, tenant: str, endpoint_id: str, expected_version: int, event: AuditEvent) -> bool: ...


class DeliveryLogPort(Protocol):
    def attempt(
        self,
        tenant: str,
        endpoint_id: str,
        message: dict[str, Any],
        state: DeliveryState,
        at: datetime,
        *,
        status: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record one try of ``message`` (its log item made on the first)."""
        ...

    def get(self, tenant: str, endpoint_id: str, message_id: str) -> dict[str, Any] | None: ...

    def mark_replayed(self, tenant: str, endpoint_id: str, message_id: str) -> None: ...

    def page(self, tenant: str, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        """The endpoint's deliveries, newest first."""
        ...
