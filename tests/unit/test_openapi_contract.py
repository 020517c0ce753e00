"""Every route documents the problems the platform can answer on it, as problem+json."""

from __future__ import annotations

import json

import pytest

from functions.catalog import http_functions
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
        ("operator_client_list", 404, "RES_NOT_FOUND"),
    ],
)
def test_a_routes_own_refusals_are_documented_with_their_code(function_name: str, status: int, code: str) -> None:
    route = next(route for function, route in http_functions() if function.name == function_name)
    operation = documented_operation(function_name, route.method, route.path)

    assert str(status) in operation["responses"]
    assert code in operation["description"]
