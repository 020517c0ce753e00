"""The one route test client: a caller of the catalogue's routes, each served by its real handler, as API Gateway
delivers a request after the authorizer accepted the caller's token.

Each function is configured as the deployed one is: the route's own variables (its role, its rate class) come from
the environment builder (``functions.catalog.environment``); the rest of the deployment comes from the ``deployment``
fixture. Route tests add their domain's verbs on top (``create``, ``publish``, ...) and check answers with
:func:`ok` and :func:`problem`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Self

import pytest

from firstmile.config import reset_settings
from functions.catalog import Route, by_name
from functions.catalog.environment import ROUTE_VARIABLES, route_variables
from tests.factories import FakeLambdaContext, body_of, http_event, load_handler


def configure_route(monkeypatch: pytest.MonkeyPatch, route: Route) -> None:
    """Set the route's own variables exactly as the builder sets them for the deployed function (and unset those
    it does not set), then let the settings be read again."""
    variables = route_variables(route)
    for name in ROUTE_VARIABLES:
        if name in variables:
            monkeypatch.setenv(name, variables[name])
        else:
            monkeypatch.delenv(name, raising=False)
    reset_settings()


@dataclass
class RouteClient:
    """One caller (tenant, subject, roles and token attributes) of the catalogue's routes.

    Handlers are imported once and shared by every caller derived with :meth:`as_`, as one warm container per
    function serves every caller.
    """

    monkeypatch: pytest.MonkeyPatch
    tenant: str = "t-acme"
    subject: str = "u-1"
    roles: str = "user"
    attributes: dict[str, str] = field(default_factory=dict)
    # False: a request without a token (what API Gateway passes on for a public route).
    authenticated: bool = True
    handlers: dict[str, ModuleType] = field(default_factory=dict)
    request_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def handler(self, name: str) -> ModuleType:
        """The loaded handler of function ``name``."""
        if name not in self.handlers:
            self.handlers[name] = load_handler(name)
        return self.handlers[name]

    def call(
        self,
        name: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send a request to function ``name``'s route (``params`` fill its path); its Lambda answer."""
        route = by_name(name).route
        assert route is not None, f"{name} serves no route"
        configure_route(self.monkeypatch, route)
        sent = {"content-type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
        event = http_event(
            route.method,
            route.path.format(**(params or {})),
            route_key=route.key,
            headers=sent,
            body=body,
            query=query,
            auth=self.token_context(),
            request_id=f"req-{next(self.request_ids)}",
        )
        return self.handler(name).lambda_handler(event, FakeLambdaContext())  # type: ignore[no-any-return]

    def token_context(self) -> dict[str, str] | None:
        """What the authorizer passes on for this caller (nothing without a token)."""
        if not self.authenticated:
            return None
        return {
            "tenant": self.tenant,
            "sub": self.subject,
            "roles": self.roles,
            "attributes": json.dumps(self.attributes),
        }

    def as_(self, **caller: Any) -> Self:
        """Another caller (``tenant``, ``subject``, ``roles``, ``attributes``, ``authenticated``) through the same
        handlers."""
        return dataclasses.replace(self, **caller)


def ok(response: dict[str, Any], status: int = 200) -> Any:
    """The body of an answer that has ``status``."""
    assert response["statusCode"] == status, response.get("body")
    return body_of(response)


def problem(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    """The problem document of an answer that has ``status`` and ``code``."""
    assert response["statusCode"] == status, response.get("body")
    assert response["headers"]["Content-Type"] == "application/problem+json"
    document: dict[str, Any] = body_of(response)
    assert (document["status"], document["code"]) == (status, code), document
    return document
