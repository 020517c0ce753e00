"""Problems, headers, correlation ids, CORS and role checks, through a real resolver and entry point."""

from __future__ import annotations

from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from firstmile import entrypoints
from firstmile import errors as e
from firstmile.errors import NotFoundError, VersionConflictError
from firstmile.http import problems as p
from firstmile.http.resolver import create_app
from tests.factories import body_of, caller, http_event


class Widget(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    size: int = Field(ge=1)


def build_handler():  # type: ignore[no-untyped-def]
    app = create_app()

    @app.post("/v1/widgets")
    def create(widget: Annotated[Widget, Body()]) -> Widget:
        return widget

    @app.get("/v1/missing")
    def missing() -> dict[str, str]:
        raise NotFoundError("widget w-1")

    @app.get("/v1/conflict")
    def conflict() -> dict[str, str]:
        raise VersionConflictError({"name": "current"}, 7)

    @app.get("/v1/business")
    def business() -> dict[str, str]:
        raise p.Problem(p.RATE_LIMITED, "slow down", headers={"Retry-After": "3"})

    @app.get("/v1/limited")
    def limited() -> dict[str, str]:
        raise e.RateLimitedError(limit=20, remaining=0, reset_seconds=41, retry_after_seconds=41)

    @app.get("/v1/refused")
    def refused() -> dict[str, str]:
        raise e.DomainError(
            e.VAL_STEP_MAP_INVALID,
            "The step map does not fit.",
            fields=[e.FieldIssue(location="body.step_map.0", message="no such step", type="unknown_source_step")],
            extensions={"open_steps": ["a"]},
        )

    @app.get("/v1/down")
    def down() -> dict[str, str]:
        raise e.DependencyUnavailableError("table", "ProvisionedThroughputExceededException")

    @app.get("/v1/who")
    def who() -> dict[str, str]:
        raise p.Problem(p.AUTH_UNAUTHENTICATED, "no caller")

    @app.get("/v1/basic")
    def basic() -> dict[str, str]:
        raise p.Problem(p.AUTH_UNAUTHENTICATED, "no client", headers={"WWW-Authenticate": 'Basic realm="x"'})

    @app.get("/v1/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError("database password is hunter2")

    return entrypoints.http(app)


@pytest.fixture
def handler():  # type: ignore[no-untyped-def]
    return build_handler()


def assert_problem(response, status: int, code: str, request_id: str) -> dict:  # type: ignore[no-untyped-def]
    assert response["statusCode"] == status
    assert response["headers"]["Content-Type"] == "application/problem+json"
    document = body_of(response)
    assert document["code"] == code
    assert document["status"] == status
    assert document["type"] == f"urn:firstmile:problem:{code}"
    assert document["instance"] == request_id
    assert document["title"] == p.CODES[code].title
    return document  # type: ignore[no-any-return]


def test_valid_body_is_answered_with_security_headers_and_a_new_correlation_id(handler, lambda_context) -> None:
    response = handler(http_event("POST", "/v1/widgets", body={"name": "a", "size": 2}), lambda_context)

    assert response["statusCode"] == 200
    assert body_of(response) == {"name": "a", "size": 2}
    headers = response["headers"]
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["Cache-Control"] == "no-store"
    assert len(headers["X-Correlation-Id"]) == 36


def test_a_given_correlation_id_is_echoed_and_a_malformed_one_replaced(handler, lambda_context) -> None:
    good = handler(http_event("GET", "/v1/missing", headers={"X-Correlation-Id": "abc-123"}), lambda_context)
    bad = handler(http_event("GET", "/v1/missing", headers={"X-Correlation-Id": "a b\nc"}), lambda_context)

    assert good["headers"]["X-Correlation-Id"] == "abc-123"
    assert bad["headers"]["X-Correlation-Id"] != "a b\nc"


def test_field_problems_are_listed_with_their_location(handler, lambda_context) -> None:
    event = http_event("POST", "/v1/widgets", body={"name": "", "size": 0}, request_id="r-1")

    document = assert_problem(handler(event, lambda_context), 422, "VAL_REQUEST_INVALID", "r-1")

    assert {e["location"] for e in document["errors"]} == {"body.name", "body.size"}


def test_malformed_json_is_a_bad_request(handler, lambda_context) -> None:
    event = http_event("POST", "/v1/widgets", body="{not json", request_id="r-2")

    assert_problem(handler(event, lambda_context), 400, "VAL_BAD_REQUEST", "r-2")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/missing", 404, "RES_NOT_FOUND"),
        ("/v1/conflict", 409, "RES_VERSION_CONFLICT"),
        ("/v1/business", 429, "RATE_LIMITED"),
        ("/v1/nowhere", 404, "RES_ROUTE_NOT_FOUND"),
        ("/v1/boom", 500, "SYS_INTERNAL"),
    ],
)
def test_failures_become_problems_with_stable_codes(handler, lambda_context, path, status, code) -> None:  # type: ignore[no-untyped-def]
    response = handler(http_event("GET", path, request_id="req-9"), lambda_context)

    assert_problem(response, status, code, "req-9")
    assert "X-Correlation-Id" in response["headers"]


def test_an_unexpected_error_leaks_nothing(handler, lambda_context) -> None:
    response = handler(http_event("GET", "/v1/boom"), lambda_context)

    assert "hunter2" not in response["body"]
    assert "RuntimeError" not in response["body"]
    assert "Traceback" not in response["body"]


def test_a_conflict_carries_the_current_state_and_its_etag(handler, lambda_context) -> None:
    response = handler(http_event("GET", "/v1/conflict"), lambda_context)

    assert response["headers"]["ETag"] == '"v7"'
    assert body_of(response)["current"] == {"name": "current"}


def test_a_domain_error_becomes_its_codes_problem_with_fields_and_extensions(handler, lambda_context) -> None:
    # Given a route whose logic refuses with a domain error naming field problems and extension data
    # When it is called
    response = handler(http_event("GET", "/v1/refused", request_id="r-5"), lambda_context)

    # Then the answer is the code's row of the table, with the fields as errors[] and the data as members
    document = assert_problem(response, 422, "VAL_STEP_MAP_INVALID", "r-5")
    assert document["detail"] == "The step map does not fit."
    assert document["errors"] == [
        {"location": "body.step_map.0", "message": "no such step", "type": "unknown_source_step"}
    ]
    assert document["open_steps"] == ["a"]


def test_a_rate_limited_domain_error_answers_429_with_the_rate_limit_headers(handler, lambda_context) -> None:
    response = handler(http_event("GET", "/v1/limited", request_id="r-6"), lambda_context)

    document = assert_problem(response, 429, "RATE_LIMITED", "r-6")
    assert document["detail"] == "Too many requests; retry in 41 seconds."
    assert {k: v for k, v in response["headers"].items() if k.startswith(("RateLimit", "Retry"))} == {
        "RateLimit-Limit": "20",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "41",
        "Retry-After": "41",
    }


def test_an_unavailable_dependency_is_named_but_its_reason_stays_inside(handler, lambda_context) -> None:
    response = handler(http_event("GET", "/v1/down", request_id="r-7"), lambda_context)

    document = assert_problem(response, 503, "SYS_UNAVAILABLE", "r-7")
    assert document["detail"] == "table is unavailable; retry later."
    assert "Provisioned" not in response["body"]


def test_problem_headers_reach_the_client(handler, lambda_context) -> None:
    response = handler(http_event("GET", "/v1/business"), lambda_context)

    assert response["headers"]["Retry-After"] == "3"


def test_cors_headers_only_for_allowed_origins(handler, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("FIRSTMILE_CORS_ALLOW_ORIGINS", '["https://app.example.com"]')

    allowed = handler(http_event("GET", "/v1/missing", headers={"Origin": "https://app.example.com"}), lambda_context)
    denied = handler(http_event("GET", "/v1/missing", headers={"Origin": "https://evil.example"}), lambda_context)

    assert allowed["headers"]["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed["headers"]["Vary"] == "Origin"
    assert "X-Correlation-Id" in allowed["headers"]["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in denied["headers"]


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (None, 401),
        (caller(roles="user"), 403),
        (caller(roles="user,admin"), 404),
    ],
)
def test_the_catalogued_role_is_enforced_before_the_route_runs(  # type: ignore[no-untyped-def]
    handler, lambda_context, monkeypatch, auth, status
) -> None:
    # Given a function whose catalogued route needs an admin
    monkeypatch.setenv("FIRSTMILE_ROUTE_ROLE", "admin")

    # When callers without identity, with a lower role and with the role call it
    response = handler(http_event("GET", "/v1/missing", auth=auth), lambda_context)

    # Then only the admin reaches the route (which answers 404 here)
    assert response["statusCode"] == status
    assert body_of(response)["code"] in {"AUTH_UNAUTHENTICATED", "PERM_FORBIDDEN", "RES_NOT_FOUND"}
    assert response["headers"]["X-Frame-Options"] == "DENY"


def test_a_code_must_fit_its_family() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        p.register_code("AUTH_SOMETHING", 403, "wrong family")
    with pytest.raises(ValueError, match="does not fit"):
        p.register_code("NOPE_SOMETHING", 400, "unknown family")


def test_problem_responses_document_the_problem_schema() -> None:
    responses = p.problem_responses(404, 409, ok=201)

    assert set(responses) == {201, 404, 409, 422, 500, 503}
    assert "content" not in responses[201]
    assert responses[404]["content"]["application/problem+json"]["model"] is p.ProblemDetails
    assert responses[404]["description"] == "Problem: Not found"


def test_every_401_names_a_challenge_and_a_routes_own_challenge_is_kept(handler, lambda_context) -> None:  # type: ignore[no-untyped-def]
    bearer = handler(http_event("GET", "/v1/who"), lambda_context)
    basic = handler(http_event("GET", "/v1/basic"), lambda_context)

    assert (bearer["statusCode"], bearer["headers"]["WWW-Authenticate"]) == (401, 'Bearer realm="firstmile"')
    assert (basic["statusCode"], basic["headers"]["WWW-Authenticate"]) == (401, 'Basic realm="x"')
