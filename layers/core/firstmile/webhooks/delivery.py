"""Delivering one webhook message (decision 0093): the endpoint read again (a deleted or disabled one, or one no
longer subscribed, is skipped), its address checked again after resolving its name and the connection made to that
very address (no redirect is followed), the body signed at send time, and transient failures (no connection, a
timeout, 408, 429, 5xx) retried by the one retry policy. A delivery that still fails raises, so the queue delivers
the message again and, after five receives, keeps it in the dead-letter queue as a task. Each endpoint has its own
breaker: an endpoint that keeps failing is not called for a while, and its messages wait in the queue meanwhile."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from firstmile.platform.resilience import RETRY_POLICY, CircuitOpenError, RetryPolicy, breaker
from firstmile.webhooks.addresses import EndpointRefusedError, Resolver, checked_addresses, resolve
from firstmile.webhooks.endpoints import signing_secrets
from firstmile.webhooks.ports import DeliveryLogPort, WebhookStorePort
from firstmile.webhooks.signing import signed_headers

TIMEOUT_SECONDS = 5.0
_MAX_ANSWER_BYTES = 64 * 1024

Post = Callable[[str, str, dict[str, str], bytes, float], int]
"""POSTs a body to a URL, connecting to the given address; the HTTP status."""


class DeliveryFailedError(RuntimeError):
    """The endpoint did not take the message (after the policy's tries)."""


class Sender:
    def __init__(
        self,
        endpoints: WebhookStorePort,
        log: DeliveryLogPort,
        *,
        allow_loopback: bool,
        clock: Callable[[], datetime],
        post: Post | None = None,
        resolver: Resolver = resolve,
        policy: RetryPolicy = RETRY_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._endpoints = endpoints
        self._log = log
        self._allow_loopback = allow_loopback
        self._clock = clock
        self._post = post or http_post
        self._resolver = resolver
        self._policy = policy
        self._sleep = sleep

    def deliver(self, message: dict[str, Any]) -> str:
        """Send ``message``; ``delivered`` or ``skipped``, else ``DeliveryFailedError``."""
        tenant, endpoint_id = str(message["tenant"]), str(message["endpoint_id"])
        endpoint = self._endpoints.get(tenant, endpoint_id)
        if endpoint is None or not endpoint.get("enabled") or message["type"] not in endpoint.get("event_types", []):
            self._log.attempt(tenant, endpoint_id, message, "skipped", self._clock(), error="endpoint gone or off")
            return "skipped"
        guard = breaker(f"webhook:{endpoint_id}")
        try:
            guard.allow()
            addresses = checked_addresses(
                str(endpoint["url"]), allow_loopback=self._allow_loopback, resolver=self._resolver
            )
        except (CircuitOpenError, EndpointRefusedError) as refused:
            self._log.attempt(tenant, endpoint_id, message, "failed", self._clock(), error=str(refused))
            raise DeliveryFailedError(str(refused)) from refused
        body = str(message["body"]).encode()
        status, error = None, None
        for attempt in range(1, self._policy.max_attempts + 1):
            now = self._clock()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Firstmile-Webhooks/1",
                **signed_headers(
                    signing_secrets(endpoint, now), str(message["message_id"]), int(now.timestamp()), body
                ),
            }
            try:
                status, error = self._post(str(endpoint["url"]), addresses[0], headers, body, TIMEOUT_SECONDS), None
            except (OSError, http.client.HTTPException) as exc:
                status, error = None, type(exc).__name__
            if status is not None and 200 <= status < 300:
                guard.succeeded()
                self._log.attempt(tenant, endpoint_id, message, "delivered", now, status=status)
                return "delivered"
            if not (status is None or status >= 500 or status in (408, 429)) or not self._policy.retries(attempt):
                break
            self._sleep(self._policy.delay(attempt))
        guard.failed()
        self._log.attempt(tenant, endpoint_id, message, "failed", self._clock(), status=status, error=error)
        raise DeliveryFailedError(f"the endpoint answered {status or error}")


def http_post(url: str, address: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
    """POST ``body`` to ``url``, connecting to ``address`` (checked already) rather than resolving the name again."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(host, parts.port or 443, address, timeout)
    else:
        connection = http.client.HTTPConnection(address, parts.port or 80, timeout=timeout)
    try:
        connection.request("POST", target, body=body, headers={**headers, "Host": parts.netloc.rsplit("@", 1)[-1]})
        answer = connection.getresponse()
        answer.read(_MAX_ANSWER_BYTES)
        return int(answer.status)
    finally:
        connection.close()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the URL's host name for SNI and the certificate check."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def message_of(body: str) -> dict[str, Any]:
    """A delivery message as the queue carries it."""
    message: dict[str, Any] = json.loads(body)
    return message
