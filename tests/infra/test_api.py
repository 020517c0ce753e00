"""The HTTP API: every catalogue route exists, non-public ones behind the authorizer, with logs and limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.catalog import API_STACK, CATALOG, Authorizer, Function, Route, http_functions
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


def authorizer_spec(synth: Synth) -> Function:
    """The one catalogue entry whose trigger is ``Authorizer``."""
    [spec] = [f for f in synth.catalog if isinstance(f.trigger, Authorizer)]
    return spec


def test_the_routes_are_exactly_the_catalogue_routes(any_synth: Synth) -> None:
    # Given the catalogue's routes (the authorizer is no route of its own)
    expected = {route.key for _, route in http_functions(any_synth.catalog)}

    # Then the app has these routes and no others
    assert set(routes(any_synth.assembly)) == expected


def test_every_non_public_route_uses_the_lambda_authorizer(any_synth: Synth) -> None:
    # Given the app's authorizer and its non-public routes (the fixture has routes of every role)
    assembly = any_synth.assembly
    authorizers = assembly.resources("AWS::ApiGatewayV2::Authorizer")
    assert len(authorizers) == 1
    api_stack, authorizer_id, _ = authorizers[0]
    by_key = routes(assembly)
    non_public = [r for _, r in http_functions(any_synth.catalog) if r.role != "public"]
    assert {r.role for r in non_public} == {"user", "admin", "operator"}

    for route in non_public:
        stack, properties = by_key[route.key]

        # Then each non-public route is authorized by that authorizer
        assert properties["AuthorizationType"] == "CUSTOM", route.key
        assert assembly.resolve(stack, properties["AuthorizerId"]) == ResourceRef(api_stack, authorizer_id)


def test_public_routes_need_no_authorization(any_synth: Synth) -> None:
    by_key = routes(any_synth.assembly)
    public = [r for _, r in http_functions(any_synth.catalog) if r.role == "public"]
    assert public
    for route in public:
        assert by_key[route.key][1]["AuthorizationType"] == "NONE"


def test_the_authorizer_is_the_function_with_the_authorizer_trigger_run_for_every_request(any_synth: Synth) -> None:
    # Given the authorizer of the app and the catalogue entry whose trigger is Authorizer (in the fixture it has
    # another name than the real one: nothing depends on the name)
    assembly = any_synth.assembly
    [(stack, _, authorizer)] = assembly.resources("AWS::ApiGatewayV2::Authorizer")
    properties = authorizer["Properties"]
    spec = authorizer_spec(any_synth)
    assert isinstance(spec.trigger, Authorizer)
    function_stack, function_id, _ = function_resources(assembly)[spec.name]

    # Then it invokes that function with payload 2.0 simple responses ...
    uri_parts = properties["AuthorizerUri"]["Fn::Join"][1]
    assert {"Fn::GetAtt": [function_id, "Arn"]} in uri_parts and function_stack == stack == "FirstmileApi"
    assert properties["AuthorizerType"] == "REQUEST"
    assert properties["EnableSimpleResponses"] is True
    assert properties["AuthorizerPayloadFormatVersion"] == "2.0"
    # ... with no identity source, so API Gateway runs it for requests without an Authorization header too (the
    # function answers those with problem+json), and therefore without a result cache (the trigger's TTL, 0)
    assert properties.get("IdentitySource", []) == []
    assert properties["AuthorizerResultTtlInSeconds"] == spec.trigger.result_ttl_seconds == 0
    # ... and only API Gateway may invoke it, only as this API's authorizer
    permissions = [
        p["Properties"]
        for s, _, p in assembly.resources("AWS::Lambda::Permission")
        if s == stack and p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert [p["Principal"] for p in permissions] == ["apigateway.amazonaws.com"]
    assert "/authorizers/" in json.dumps(permissions[0]["SourceArn"])


def test_the_authorizer_function_gets_no_route_and_no_domain_stack(any_synth: Synth) -> None:
    # Given the authorizer's catalogue entry
    spec = authorizer_spec(any_synth)

    # Then its function is in the API stack, and no integration invokes it as a route
    stack, function_id, _ = function_resources(any_synth.assembly)[spec.name]
    assert stack == "FirstmileApi"
    for _, _, integration in any_synth.assembly.resources("AWS::ApiGatewayV2::Integration"):
        assert integration["Properties"]["IntegrationUri"] != {"Fn::GetAtt": [function_id, "Arn"]}


def test_a_non_public_route_without_an_authorizer_in_the_catalogue_fails_the_synth(tmp_path: Path) -> None:
    # Given a catalogue with a user route and no Authorizer function
    private = Function(
        name="health_live",
        domain="health",
        stack="health",
        description="A route that needs a user.",
        trigger=Route("GET", "/v1/private", "user"),
    )

    # When the app is built, then it refuses
    with pytest.raises(Exception, match="no function with an Authorizer trigger"):
        build_app((private,), outdir=str(tmp_path))


@pytest.mark.parametrize(
    ("authorizers", "message"),
    [
        ((Authorizer(result_ttl_seconds=300),), "cannot cache"),
        ((Authorizer(), Authorizer()), "one only"),
    ],
)
def test_a_caching_authorizer_or_a_second_one_fails_the_synth(
    tmp_path: Path, authorizers: tuple[Authorizer, ...], message: str
) -> None:
    # Given a catalogue whose authorizer caches (impossible without an identity source), or with two authorizers
    catalog = tuple(
        Function(
            name=f"health_live{i or ''}",
            domain="health",
            stack=API_STACK,
            description="An authorizer.",
            trigger=trigger,
        )
        for i, trigger in enumerate(authorizers)
    )

    # When the app is built, then it refuses
    with pytest.raises(ValueError, match=message):
        build_app(catalog, outdir=str(tmp_path))


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
