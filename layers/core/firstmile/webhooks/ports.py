"""What webhooks need of storage: ``WebhookStore`` implements it, and so does the unit tests' fake; both pass the
same contract suite (tests/contracts/webhooks.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from firstmile.audit.models import AuditEvent


class WebhookStorePort(Protocol):
    def get(self, tenant: str, endpoint_id: str) -> dict[str, Any] | None: ...

    def list(self, tenant: str) -> list[dict[str, Any]]: ...

    def put(self, tenant: str, endpoint: dict[str, Any], expected_version: int, event: AuditEvent) -> bool:
        """Write ``endpoint`` as the version after ``expected_version`` (0: new) with ``event``'s entry; ``False``
        when the stored endpoint is not at that version."""
        ...

    def delete(self, tenant: str, endpoint_id: str, expected_version: int, event: AuditEvent) -> bool: ...
