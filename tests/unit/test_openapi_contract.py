"""Every route documents the problems the platform can answer on it, as problem+json, and the headers it reads and
answers; the merged document adds what the entry point answers on any route."""

from __future__ import annotations

import functools
import inspect
import json

import pytest

from firstmile.http.documentation import RATE_LIMIT_HEADERS
from functions.catalog import http_functions
from local.openapi import build_document
from tests.factories import load_handler

PLATFORM_PROBLEMS = {422, 500}
IDENTITY_PROBLEMS = {401, 403}


def documented_operation(function_name: str, method: str, path: str) -> dict:  # type: ignore[type-arg]
    app = load_handler(function_name).app
    schema = json.loads(app.get_openapi_schema(title="t", version="0").model_dump_json(by_alias=True))
    return schema["paths"][path][method.lower()]  # type: ignore[no-any-return]


def documented_responses(function_name: str, method: str, path: str) -> dict:  # type: ignore[type-arg]
    return documented_operation(function_name, method, path)["responses"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("function", "route"), http_functions(), ids=lambda v: getattr(v, "name", ""))
def test_problem_statuses_are_documented_as_problem_json(function, route) -> None:  # type: ignore[no-untyped-def]
    responses = documented_responses(function.name, route.method, route.path)
    required = PLATFORM_PROBLEMS | (IDENTITY_PROBLEMS if route.role != "public" else set())

    assert required <= {int(status) for status in responses}
    for status, response in responses.items():
        if int(status) >= 400:
            assert list(response["content"]) == ["application/problem+json"], status
            assert response["content"]["application/problem+json"]["schema"]["$ref"].endswith("ProblemDetails")
    assert any(200 <= int(status) < 300 for status in responses)


@pytest.mark.parametrize(
    ("function_name", "status", "code"),
    [
        ("admin_onboarding_restart", 404, "RES_ONBOARDING_NOT_FOUND"),
        ("admin_flow_update", 428, "RES_PRECONDITION_REQUIRED"),
        ("admin_segment_put", 422, "VAL_SEGMENT_KEY_MISMATCH"),
        ("operator_client_list", 404, "RES_TENANT_NOT_FOUND"),
    ],
)
def test_a_routes_own_refusals_are_documented_with_their_code(function_name: str, status: int, code: str) -> None:
    route = next(route for function, route in http_functions() if function.name == function_name)
    operation = documented_operation(function_name, route.method, route.path)

    assert str(status) in operation["responses"]
    assert code in operation["description"]


# --- the merged document: what the platform answers on a route is declared on it ---------------------------------


@functools.cache
def merged() -> dict:  # type: ignore[type-arg]
    return build_document()


def operation_of(route) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return merged()["paths"][route.path][route.method.lower()]  # type: ignore[no-any-return]


def response_header_names(response: dict) -> set[str]:  # type: ignore[type-arg]
    return {name.lower() for name in response.get("headers", {})}


def request_header_names(operation: dict) -> set[str]:  # type: ignore[type-arg]
    return {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}


@pytest.mark.parametrize(("function", "route"), http_functions(), ids=lambda v: getattr(v, "name", ""))
def test_every_status_and_header_the_platform_can_answer_is_declared(function, route) -> None:  # type: ignore[no-untyped-def]
    # Given the route as the merged document describes it, and what its handler calls
    operation = operation_of(route)
    responses = operation["responses"]
    statuses = {int(s) for s in responses}
    source = inspect.getsource(load_handler(function.name))
    progress = "change_progress(" in source

    # Then: every route can answer 422, 500 and 503 (resolver), and every answer carries the correlation id
    assert {422, 500, 503} <= statuses
    assert all("x-correlation-id" in response_header_names(r) for r in responses.values())
    assert "x-correlation-id" in request_header_names(operation)
    # a route with a body can refuse it at the entry point (firstmile.http.bodies)
    if "requestBody" in operation:
        assert {400, 413, 415} <= statuses
        assert "application/json" in operation["requestBody"]["content"]
        assert "accept-post" in response_header_names(responses["415"])
    # a cursor can be refused
    if any(p["name"] == "cursor" for p in operation.get("parameters", [])):
        assert 400 in statuses
    # a route that needs a token answers 401 with a challenge and 403
    if route.role != "public":
        assert {401, 403} <= statuses
    if 401 in statuses:
        assert "www-authenticate" in response_header_names(responses["401"])
    # a rate-limited route answers 429 with Retry-After and the RateLimit headers, and its successes the latter
    if route.rate_class is not None:
        assert 429 in statuses
        ok = [r for s, r in responses.items() if s.startswith("2")]
        assert all({h.lower() for h in RATE_LIMIT_HEADERS} <= response_header_names(r) for r in ok)
    if 429 in statuses:
        assert {"retry-after", *(h.lower() for h in RATE_LIMIT_HEADERS)} <= response_header_names(responses["429"])
    # request headers the handler reads are declared, and so are the response headers it sets
    ok_headers = set().union(*(response_header_names(r) for s, r in responses.items() if s.startswith("2")))
    if "expected_version(" in source or progress:
        assert "if-match" in request_header_names(operation)
        assert 400 in statuses  # a malformed If-Match
    if "idempotent(" in source or progress:
        assert "idempotency-key" in request_header_names(operation)
        assert {400, 409} <= statuses  # a malformed key; the same key still in progress
        assert "idempotent-replayed" in ok_headers
    if "versioned_response(" in source or progress:
        assert "etag" in ok_headers
    if '"Location"' in source:
        assert "location" in ok_headers
    # and every problem is problem+json
    for status, response in responses.items():
        if int(status) >= 400:
            assert list(response["content"]) == ["application/problem+json"], (route.key, status)


def test_the_token_endpoint_documents_the_form_rfc_6749_clients_send() -> None:
    operation = merged()["paths"]["/v1/auth/token"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["properties"]["grant_type"]["enum"] == ["client_credentials", "refresh_token"]
    assert "scope" in form["properties"]


def test_every_declared_header_is_described_once() -> None:
    document = merged()
    described = set(document["components"]["headers"])
    for path in document["paths"].values():
        for operation in path.values():
            for response in operation["responses"].values():
                for name, header in response.get("headers", {}).items():
                    assert header == {"$ref": f"#/components/headers/{name}"} and name in described
