"""The records reach the aggregator in AWS (decision 0101): every function's log group but the aggregator's own
carries a subscription filter for them naming the aggregator, CloudWatch Logs may invoke the aggregator for the
stage's log groups only, and the aggregator's stack is deployed before every other domain stack."""

from __future__ import annotations

import json

from firstmile.sla.requests import FILTER_PATTERN, GATEWAY_FILTER_PATTERN
from functions.catalog import API_STACK, Authorizer, LogSubscription
from tests.infra.conftest import Synth


def _camel(stack: str) -> str:
    return "Firstmile" + "".join(p.capitalize() for p in stack.split("_"))


def test_every_function_log_group_is_subscribed_to_the_aggregator(real_synth: Synth) -> None:
    assembly = real_synth.assembly
    stage = assembly.stage
    aggregator = next(f for f in real_synth.catalog if isinstance(f.trigger, LogSubscription))
    # (the authorizer is built by the API stack: it answers no route and takes no message)
    subscribed = [f for f in real_synth.catalog if not isinstance(f.trigger, LogSubscription | Authorizer)]

    # Given every subscription filter of the app on a function's log group, by the log group it is on
    filters = {
        json.dumps(resource["Properties"]["LogGroupName"]): (stack, resource["Properties"])
        for stack, _, resource in assembly.resources("AWS::Logs::SubscriptionFilter")
        if "http-access-log-group" not in json.dumps(resource["Properties"]["LogGroupName"])
    }

    # Then there is one per function, with the records' pattern, naming the aggregator
    assert len(filters) == len(subscribed)
    for stack, properties in filters.values():
        assert properties["FilterPattern"] == FILTER_PATTERN
        assert f"function:firstmile-{stage}-{aggregator.name}" in json.dumps(properties["DestinationArn"]), stack

    # And CloudWatch Logs may invoke the aggregator, for this stage's function log groups and the API's access log
    permissions = [
        r["Properties"]
        for _, _, r in assembly.resources("AWS::Lambda::Permission")
        if r["Properties"].get("Principal") == "logs.amazonaws.com"
    ]
    assert sorted(json.dumps(p["SourceArn"]) for p in permissions) == sorted(
        [
            json.dumps(
                {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":",
                 {"Ref": "AWS::AccountId"}, f":log-group:/aws/lambda/firstmile-{stage}-*:*"]]}
            ),
            json.dumps({"Fn::ImportValue": f"firstmile-{stage}-http-access-log-group-arn"}),
        ]
    )  # fmt: skip

    # And every other domain stack is deployed after the aggregator's
    manifest = json.loads((assembly.directory / "manifest.json").read_text())
    for stack in {f.stack for f in subscribed} - {aggregator.stack, API_STACK}:
        assert _camel(aggregator.stack) in manifest["artifacts"][_camel(stack)].get("dependencies", []), stack


def test_the_apis_access_log_is_subscribed_to_the_aggregator_for_the_answers_api_gateway_made(
    real_synth: Synth,
) -> None:
    assembly = real_synth.assembly
    stage = assembly.stage
    aggregator = next(f for f in real_synth.catalog if isinstance(f.trigger, LogSubscription))

    # Given the subscription filters on the API's access log (which the API stack exports)
    (found,) = [
        (stack, resource)
        for stack, _, resource in assembly.resources("AWS::Logs::SubscriptionFilter")
        if "http-access-log-group" in json.dumps(resource["Properties"]["LogGroupName"])
    ]
    stack, resource = found

    # Then there is one, in the aggregator's stack, passing the 5xx answers API Gateway made itself to the aggregator
    assert stack == _camel(aggregator.stack)
    properties = resource["Properties"]
    assert properties["LogGroupName"] == {"Fn::ImportValue": f"firstmile-{stage}-http-access-log-group-name"}
    assert properties["FilterPattern"] == GATEWAY_FILTER_PATTERN
    (target, attribute) = properties["DestinationArn"]["Fn::GetAtt"]
    assert (target.startswith(_camel(aggregator.name).removeprefix("Firstmile") + "Function"), attribute) == (
        True,
        "Arn",
    )
    # And it is created after the permission that lets CloudWatch Logs invoke the aggregator for that log group
    assert any("AccessLogsInvoke" in dependency for dependency in resource.get("DependsOn", []))
