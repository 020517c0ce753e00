"""The audit event of an action taken while serving a request or running a job."""

from __future__ import annotations

from firstmile.audit.models import AuditEvent
from firstmile.observability import logger


def action_event(tenant: str, actor: str, action: str, target: str, **details: object) -> AuditEvent:
    """What ``actor`` did to ``target`` in ``tenant``, with the current correlation id and ``details`` as text."""
    return AuditEvent(
        tenant=tenant,
        actor=actor,
        action=action,
        target=target,
        correlation_id=logger.get_correlation_id() or "",
        details={key: str(value) for key, value in details.items()},
    )
