"""Test data: API Gateway HTTP API (payload v2) events, Lambda contexts, loaded handler modules, the values of a
deployment."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from firstmile.platform.resources import BUCKETS
from functions.catalog import by_name
from functions.catalog.environment import DeploymentValues

NOW = 1_800_000_000.0
"""A fixed moment (2027-01-15) that clock-driven tests start from."""


@dataclass
class FakeClock:
    """A clock that moves only when told to."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(
    method: str,
    path: str,
    *,
    route_key: str | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    auth: dict[str, str] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A payload v2 event as API Gateway's HTTP API sends it (headers lower-cased)."""
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    sent = {k.lower(): v for k, v in (headers or {}).items()}
    if raw_body is not None:
        # As a client sends it: a body comes with its media type.
        sent.setdefault("content-type", "application/json")
    request_context: dict[str, Any] = {
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
        "requestId": request_id or str(uuid.uuid4()),
        "routeKey": route_key or f"{method} {path}",
        "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000",
        "timeEpoch": 1767225600000,
    }
    if auth is not None:
        request_context["authorizer"] = {"lambda": auth}
    return {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": sent,
        "queryStringParameters": query,
        "requestContext": request_context,
        "body": raw_body,
        "isBase64Encoded": False,
    }


def placeholder_deployment(**changes: Any) -> DeploymentValues:
    """A deployment as the environment builder sees it, with placeholders where CDK passes references (which the
    builder never looks into); ``changes`` replace any of its values."""
    values = DeploymentValues(
        stage="test",
        version="v",
        commit="0123abc",
        table_name="table",
        bucket_names={bucket.settings_field: f"bucket-{bucket.logical_name.lower()}" for bucket in BUCKETS},
        queue_url=lambda name: f"url:{name}",
        issuer="issuer",
        audience="audience",
        cors_allow_origins=(),
        cursor_key="cursor-key",
        signing_keys_secret="secret",
    )
    return replace(values, **changes)


def caller(tenant: str = "t-acme", sub: str = "u-1", roles: str = "user") -> dict[str, str]:
    """The authorizer context of a verified caller."""
    return {"tenant": tenant, "sub": sub, "roles": roles, "attributes": "{}"}


def load_handler(name: str) -> ModuleType:
    """Import ``functions/<name>/handler.py`` afresh, under a module name of its own."""
    path = by_name(name).handler_path
    module_name = f"firstmile_function_{name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def run_together(work: Callable[[Callable[[], None]], None], count: int) -> None:
    """Run ``work`` on ``count`` threads at once. Each thread gets a ``ready`` function to call once it is set up;
    all of them go on from there at the same moment. Returns when every thread has ended."""
    start = threading.Barrier(count)
    threads = [threading.Thread(target=work, args=(start.wait,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
