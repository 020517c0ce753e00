"""The HTTP API: every catalogue route exists, non-public ones behind the authorizer, with logs and limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.catalog import CATALOG, Function, Route, http_functions
from infra.app import build_app
from tests.infra.assembly import Assembly, ResourceRef, function_resources
from tests.infra.conftest import FIXTURE_CONTEXT, Synth


def routes(assembly: Assembly) -> dict[str, tuple[str, dict[str, object]]]:
    """Every route of the app by route key, with its stack."""
    found: dict[str, tuple[str, dict[str, object]]] = {}
    for stack, _, route in assembly.resources("AWS::ApiGatewayV2::Route"):
        key = str(route["Properties"]["RouteKey"])
        assert key not in found, f"route {key} is defined twice"
        found[key] = (stack, route["Properties"])
    return found


def test_the_routes_are_exactly_the_catalogue_routes(any_synth: Synth) -> None:
    # Given the catalogue's routes (the authorizer is no route of its own)
    expected = {route.key for f, route in http_functions(any_synth.catalog) if f.name != "authorizer"}

    # Then the app has these routes and no others
    assert set(routes(any_synth.assembly)) == expected


def test_every_non_public_route_uses_the_lambda_authorizer(fixture_synth: Synth) -> None:
    # Given the fixture's authorizer and its routes of every role
    assembly = fixture_synth.assembly
    authorizers = assembly.resources("AWS::ApiGatewayV2::Authorizer")
    assert len(authorizers) == 1
    api_stack, authorizer_id, _ = authorizers[0]
    by_key = routes(assembly)
    non_public = [r for _, r in http_functions(fixture_synth.catalog) if r.role != "public"]
    assert {r.role for r in non_public} == {"user", "admin", "operator"}

    for route in non_public:
        stack, properties = by_key[route.key]

        # Then each non-public route is authorized by that authorizer
        assert properties["AuthorizationType"] == "CUSTOM", route.key
        assert assembly.resolve(stack, properties["AuthorizerId"]) == ResourceRef(api_stack, authorizer_id)


def test_public_routes_need_no_authorization(any_synth: Synth) -> None:
    by_key = routes(any_synth.assembly)
    public = [r for f, r in http_functions(any_synth.catalog) if r.role == "public" and f.name != "authorizer"]
    assert public
    for route in public:
        assert by_key[route.key][1]["AuthorizationType"] == "NONE"


def test_the_authorizer_is_the_catalogue_function_with_simple_responses_on_the_authorization_header(
    fixture_synth: Synth,
) -> None:
    # Given the authorizer of the fixture app
    assembly = fixture_synth.assembly
    stack, _, authorizer = assembly.resources("AWS::ApiGatewayV2::Authorizer")[0]
    properties = authorizer["Properties"]
    function_stack, function_id, _ = function_resources(assembly)["authorizer"]

    # Then it invokes the `authorizer` function with payload 2.0 simple responses and no cache
    uri_parts = properties["AuthorizerUri"]["Fn::Join"][1]
    assert {"Fn::GetAtt": [function_id, "Arn"]} in uri_parts and function_stack == stack
    assert properties["AuthorizerType"] == "REQUEST"
    assert properties["EnableSimpleResponses"] is True
    assert properties["AuthorizerPayloadFormatVersion"] == "2.0"
    assert properties["IdentitySource"] == ["$request.header.Authorization"]
    assert properties["AuthorizerResultTtlInSeconds"] == 0
    permissions = [
        p["Properties"]
        for s, _, p in assembly.resources("AWS::Lambda::Permission")
        if s == stack and p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert [p["Principal"] for p in permissions] == ["apigateway.amazonaws.com"]


def test_a_non_public_route_without_an_authorizer_in_the_catalogue_fails_the_synth(tmp_path: Path) -> None:
    # Given a catalogue with a user route and no authorizer
    private = Function(
        name="health_live",
        domain="health",
        description="A route that needs a user.",
        trigger=Route("GET", "/v1/private", "user"),
    )

    # When the app is built, then it refuses
    with pytest.raises(Exception, match="no 'authorizer' function"):
        build_app((private,), outdir=str(tmp_path))


def test_the_default_stage_logs_every_request_as_json(any_synth: Synth) -> None:
    # Given the API's stages
    stages = any_synth.assembly.resources("AWS::ApiGatewayV2::Stage")
    assert [s["Properties"]["StageName"] for _, _, s in stages] == ["$default"]
    stack, _, stage = stages[0]
    settings = stage["Properties"]["AccessLogSettings"]

    # Then it writes a JSON line per request, with the fields an operator looks for, to a retained log group
    fields = json.loads(settings["Format"])
    for field in ("requestId", "routeKey", "status", "latency", "integrationErrorMessage"):
        assert field in fields
    log_group = any_synth.assembly.resolve(stack, settings["DestinationArn"])
    assert log_group is not None
    assert any_synth.assembly.resource(log_group)["Properties"]["RetentionInDays"] > 0


def test_default_throttling_and_cors_come_from_the_context(fixture_synth: Synth, real_synth: Synth) -> None:
    # Given the fixture app (context set) and the real app (defaults)
    fixture_stage = fixture_synth.assembly.resources("AWS::ApiGatewayV2::Stage")[0][2]["Properties"]
    real_stage = real_synth.assembly.resources("AWS::ApiGatewayV2::Stage")[0][2]["Properties"]

    # Then the stage throttles by the context (or the defaults) and CORS allows only the configured origins
    assert fixture_stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": int(FIXTURE_CONTEXT["apiThrottleRate"]),
        "ThrottlingBurstLimit": int(FIXTURE_CONTEXT["apiThrottleBurst"]),
    }
    assert real_stage["DefaultRouteSettings"] == {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200}
    fixture_api = fixture_synth.assembly.resources("AWS::ApiGatewayV2::Api")[0][2]["Properties"]
    assert fixture_api["CorsConfiguration"]["AllowOrigins"] == json.loads(FIXTURE_CONTEXT["corsAllowOrigins"])
    real_api = real_synth.assembly.resources("AWS::ApiGatewayV2::Api")[0][2]["Properties"]
    assert "CorsConfiguration" not in real_api


def test_routes_integrate_their_own_function_with_payload_v2(real_synth: Synth) -> None:
    # Given each route of the real catalogue and the function that serves it
    assembly = real_synth.assembly
    functions = function_resources(assembly)
    for function, route in http_functions(CATALOG):
        stack, properties = routes(assembly)[route.key]
        integration = assembly.resolve(stack, {"Ref": str(properties["Target"]["Fn::Join"][1][1]["Ref"])})  # type: ignore[index]
        assert integration is not None
        integration_properties = assembly.resource(integration)["Properties"]

        # Then the route invokes exactly that function with payload format 2.0
        _, function_id, _ = functions[function.name]
        assert integration_properties["IntegrationUri"] == {"Fn::GetAtt": [function_id, "Arn"]}
        assert integration_properties["PayloadFormatVersion"] == "2.0"
