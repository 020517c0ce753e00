"""Registering webhook endpoints (decision 0093): the URL checked against the address rules, the secret made here
and shown once, rotation with a grace period, every change audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from firstmile import errors as e
from firstmile.audit.models import AuditEvent
from firstmile.audit.ports import AuditLog
from firstmile.errors import DomainError, FieldIssue
from firstmile.webhooks.addresses import EndpointRefusedError, Resolver, checked_addresses, resolve
from firstmile.webhooks.deliveries import DeliveryPage, Replayed
from firstmile.webhooks.models import (
    MAX_ENDPOINTS,
    SECRET_GRACE_HOURS,
    Endpoint,
    EndpointCreate,
    EndpointList,
    EndpointSecret,
    EndpointUpdate,
    new_endpoint_id,
)
from firstmile.webhooks.ports import DeliveryLogPort, WebhookStorePort
from firstmile.webhooks.signing import new_secret

_ATTEMPTS = 3


class WebhookEndpoints:
    def __init__(
        self,
        store: WebhookStorePort,
        *,
        allow_loopback: bool,
        clock: Callable[[], datetime],
        resolver: Resolver = resolve,
        log: DeliveryLogPort | None = None,
        enqueue: Callable[[list[dict[str, Any]]], None] | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._store = store
        self._allow_loopback = allow_loopback
        self._clock = clock
        self._resolver = resolver
        self._log = log
        self._enqueue = enqueue
        self._audit = audit

    def deliveries(self, tenant: str, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        """The endpoint's delivery log, newest first. The page is read first, so a cursor this list did not sign is
        refused (400) before the endpoint is looked for (404)."""
        assert self._log is not None  # noqa: S101 - composed with a log wherever deliveries are read
        page = self._log.page(tenant, endpoint_id, limit=limit, cursor=cursor)
        self._stored(tenant, endpoint_id)
        return page

    def replay(self, tenant: str, actor: str, endpoint_id: str, message_id: str, correlation_id: str = "") -> Replayed:
        """Send a logged message again, with its id and body as they were (signed anew). Audited."""
        endpoint = self._stored(tenant, endpoint_id)
        assert self._log is not None and self._enqueue is not None and self._audit is not None  # noqa: S101
        logged = self._log.get(tenant, endpoint_id, message_id)
        if logged is None:
            raise DomainError(e.RES_DELIVERY_NOT_FOUND, f"No delivery {message_id} of this endpoint.")
        self._enqueue(
            [
                {
                    "tenant": tenant,
                    "endpoint_id": endpoint_id,
                    "message_id": message_id,
                    "type": logged["type"],
                    "body": logged["body"],
                    "created_at": logged["created_at"],
                }
            ]
        )
        self._log.mark_replayed(tenant, endpoint_id, message_id)
        event = _event(tenant, actor, "webhook.delivery_replayed", endpoint, correlation_id)
        self._audit.record(event.model_copy(update={"details": {**event.details, "message_id": message_id}}))
        return Replayed(status="queued", message_id=message_id)

    def create(self, tenant: str, actor: str, request: EndpointCreate, correlation_id: str = "") -> EndpointSecret:
        if len(self._store.list(tenant)) >= MAX_ENDPOINTS:
            raise DomainError(e.BIZ_WEBHOOK_LIMIT, f"A tenant registers at most {MAX_ENDPOINTS} webhook endpoints.")
        self._check(request.url)
        now, secret = self._clock(), new_secret()
        endpoint = {
            "endpoint_id": new_endpoint_id(),
            "url": request.url,
            "event_types": sorted({t.value for t in request.event_types}),
            "description": request.description,
            "enabled": True,
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "secret": secret,
        }
        event = _event(tenant, actor, "webhook.created", endpoint, correlation_id)
        if not self._store.put(tenant, endpoint, 0, event):
            raise EndpointChangedError
        return EndpointSecret(endpoint=_view(endpoint), secret=secret)

    def list(self, tenant: str) -> EndpointList:
        endpoints = sorted(self._store.list(tenant), key=lambda item: str(item["created_at"]))
        return EndpointList(items=[_view(item) for item in endpoints], total=len(endpoints))

    def get(self, tenant: str, endpoint_id: str) -> Endpoint:
        return _view(self._stored(tenant, endpoint_id))

    def update(
        self, tenant: str, actor: str, endpoint_id: str, request: EndpointUpdate, correlation_id: str = ""
    ) -> Endpoint:
        if request.url is not None:
            self._check(request.url)
        changes: dict[str, Any] = request.model_dump(exclude_none=True, mode="json")
        if "event_types" in changes:
            changes["event_types"] = sorted(set(changes["event_types"]))

        def change(stored: dict[str, Any]) -> dict[str, Any]:
            return {**stored, **changes, "updated_at": self._clock().isoformat()}

        return _view(self._change(tenant, actor, endpoint_id, "webhook.updated", change, correlation_id))

    def rotate_secret(self, tenant: str, actor: str, endpoint_id: str, correlation_id: str = "") -> EndpointSecret:
        """A new secret; the previous one keeps signing, next to it, for ``SECRET_GRACE_HOURS``."""
        secret = new_secret()

        def change(stored: dict[str, Any]) -> dict[str, Any]:
            now = self._clock()
            return {
                **stored,
                "secret": secret,
                "previous_secret": stored["secret"],
                "previous_secret_expires_at": (now + timedelta(hours=SECRET_GRACE_HOURS)).isoformat(),
                "secret_rotated_at": now.isoformat(),
                "updated_at": now.isoformat(),
            }

        stored = self._change(tenant, actor, endpoint_id, "webhook.secret_rotated", change, correlation_id)
        return EndpointSecret(endpoint=_view(stored), secret=secret)

    def delete(self, tenant: str, actor: str, endpoint_id: str, correlation_id: str = "") -> None:
        for _ in range(_ATTEMPTS):
            stored = self._stored(tenant, endpoint_id)
            event = _event(tenant, actor, "webhook.deleted", stored, correlation_id)
            if self._store.delete(tenant, endpoint_id, int(stored["version"]), event):
                return
        raise EndpointChangedError

    def _change(
        self,
        tenant: str,
        actor: str,
        endpoint_id: str,
        action: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        correlation_id: str,
    ) -> dict[str, Any]:
        for _ in range(_ATTEMPTS):
            stored = self._stored(tenant, endpoint_id)
            changed = change({k: v for k, v in stored.items() if k not in ("version", "tenant")})
            event = _event(tenant, actor, action, changed, correlation_id)
            if self._store.put(tenant, changed, int(stored["version"]), event):
                return changed
        raise EndpointChangedError

    def _stored(self, tenant: str, endpoint_id: str) -> dict[str, Any]:
        stored = self._store.get(tenant, endpoint_id)
        if stored is None:
            raise DomainError(e.RES_WEBHOOK_NOT_FOUND, f"No webhook endpoint {endpoint_id} in this tenant.")
        return stored

    def _check(self, url: str) -> None:
        try:
            checked_addresses(url, allow_loopback=self._allow_loopback, resolver=self._resolver)
        except EndpointRefusedError as refused:
            raise DomainError(
                e.VAL_WEBHOOK_URL_REFUSED,
                f"Firstmile does not send webhooks there: {refused}.",
                fields=[FieldIssue("body.url", str(refused), "webhook_url_refused")],
            ) from None


def signing_secrets(endpoint: dict[str, Any], now: datetime) -> list[str]:
    """The secrets a delivery to ``endpoint`` is signed with: the current one, and the previous one in its grace."""
    secrets = [str(endpoint["secret"])]
    expires = endpoint.get("previous_secret_expires_at")
    if endpoint.get("previous_secret") and expires and datetime.fromisoformat(str(expires)) > now:
        secrets.append(str(endpoint["previous_secret"]))
    return secrets


class EndpointChangedError(DomainError):
    """The endpoint kept changing under this request (three tries)."""

    def __init__(self) -> None:
        super().__init__(e.RES_VERSION_CONFLICT, "The webhook endpoint changed meanwhile; try again.")


def _view(item: dict[str, Any]) -> Endpoint:
    fields = {k: item.get(k) for k in Endpoint.model_fields if item.get(k) is not None}
    return Endpoint.model_validate(fields)


def _event(tenant: str, actor: str, action: str, endpoint: dict[str, Any], correlation_id: str) -> AuditEvent:
    return AuditEvent(
        tenant=tenant,
        actor=actor,
        action=action,
        target=f"webhook:{endpoint['endpoint_id']}",
        correlation_id=correlation_id,
        details={
            "host": urlsplit(str(endpoint["url"])).hostname or "",
            "event_types": ",".join(endpoint["event_types"]),
            "enabled": str(endpoint.get("enabled", True)).lower(),
        },
    )
