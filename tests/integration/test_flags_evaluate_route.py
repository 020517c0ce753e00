"""POST /v1/flags/evaluate and what feeds it, through the real handlers and the emulator.

Covered: evaluating all flags or the named ones, each result's fields; segments in targeting; the kill switch as an
evaluation sees it (at once on a cold cache, and within the stated bound on a warm one); the client attributes a
tenant allows and the token's precedence; sampled exposure events through the queue and the worker to the exposures
route; erasing a user from targeting; and the tenant boundary.

The container's flag cache checks the tenant's epoch at most every second, so a test that changes flags after an
evaluation either drops the cache (``fresh()``: a new container) or waits for the bound, and says which.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from firstmile.errors import DependencyUnavailableError
from firstmile.flags.cache import KILL_SWITCH_BOUND_SECONDS
from firstmile.flags.runtime import flag_service, reset_flags_runtime
from firstmile.platform.gateway import TableGateway
from functions.catalog import Queue, by_name
from tests.factories import FakeLambdaContext, body_of, load_handler
from tests.integration.conftest import Deployment
from tests.integration.test_flags_admin_routes import (
    OTHER_TENANT,
    TENANT,
    Api,
    api,
    flag_body,
    ok,
    problem,
    segment_body,
)

__all__ = ["api"]  # the fixture, shared with the admin routes' tests

RESULT_FIELDS = {"flag_key", "value", "variant", "reason", "rule_id", "flag_version", "error"}


def fresh() -> None:
    """A new container: the next evaluation reads the tenant's flags from the table."""
    reset_flags_runtime()


def results(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answer = ok(response)
    assert answer["freshness"] == "fresh"
    flags: dict[str, dict[str, Any]] = answer["flags"]
    for key, result in flags.items():
        assert set(result) == RESULT_FIELDS, result
        assert result["flag_key"] == key
    return flags


def served(result: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """(value, variant, reason, rule_id) of one result."""
    return result["value"], result["variant"], result["reason"], result["rule_id"]


def segment_flag(key: str = "beta-feature", **changes: Any) -> dict[str, Any]:
    """On for the members of segment beta, off for everyone else."""
    rule = {
        "id": "beta-users",
        "conditions": [{"attribute": "segment", "operator": "in", "value": ["beta"]}],
        "serve": {"value": True},
    }
    return flag_body(key, rules=[rule], tags=["beta"], **changes)


def variants_flag(key: str = "button-colour") -> dict[str, Any]:
    return {
        "key": key,
        "type": "variants",
        "variants": [
            {"key": "blue", "value": {"hex": "#00f"}, "weight": 1},
            {"key": "green", "value": {"hex": "#0f0"}},
        ],
        "off_variant": "green",
        "enabled": True,
        "fallthrough": {"variant": "blue"},
    }


# --- what an evaluation answers -----------------------------------------------------------------------------


def test_evaluating_all_flags_answers_every_flag_that_is_not_archived(api: Api) -> None:
    # Given a boolean flag targeting Germany, a variants flag, a disabled flag and an archived one
    ok(api.create(flag_body("new-checkout")), 201)
    ok(api.create(variants_flag()), 201)
    ok(api.create(flag_body("dormant", enabled=False)), 201)
    ok(api.create(flag_body("retired")), 201)
    ok(api.archive("retired", '"v1"'))
    ok(api.update("new-checkout", flag_body("new-checkout", description="Changed"), '"v1"'))

    # When a German user evaluates all flags
    answer = ok(api.user("u-1", country="DE").evaluate())

    # Then each flag that is not archived is answered, with its value, variant, reason, rule and version
    flags = results({"statusCode": 200, "body": json.dumps(answer)})
    assert set(flags) == {"new-checkout", "button-colour", "dormant"}
    assert served(flags["new-checkout"]) == (True, "on", "TARGETING_MATCH", "beta-markets")
    assert flags["new-checkout"]["flag_version"] == 2
    assert served(flags["button-colour"]) == ({"hex": "#00f"}, "blue", "STATIC", None)
    assert flags["button-colour"]["flag_version"] == 1
    assert served(flags["dormant"]) == (False, "off", "DISABLED", None)
    assert answer["flag_set_version"] == 6

    # And a user elsewhere falls through to the off value
    elsewhere = results(api.user("u-2", country="US").evaluate())
    assert served(elsewhere["new-checkout"]) == (False, "off", "DEFAULT", None)


def test_evaluating_named_flags_answers_those_and_flags_the_unknown_ones(api: Api) -> None:
    ok(api.create(flag_body("new-checkout")), 201)
    ok(api.create(flag_body("other")), 201)
    ok(api.create(flag_body("retired")), 201)
    ok(api.archive("retired", '"v1"'))

    flags = results(api.user("u-1", country="FR").evaluate({"flags": ["new-checkout", "retired", "nowhere"]}))

    # Only the named ones; an archived flag named explicitly serves its off value
    assert set(flags) == {"new-checkout", "retired", "nowhere"}
    assert served(flags["new-checkout"]) == (True, "on", "TARGETING_MATCH", "beta-markets")
    assert served(flags["retired"]) == (False, "off", "DISABLED", None)
    assert flags["retired"]["flag_version"] == 2
    # An unknown flag has no value, variant or version, and says why
    assert flags["nowhere"] == {
        "flag_key": "nowhere",
        "value": None,
        "variant": None,
        "reason": "ERROR",
        "rule_id": None,
        "flag_version": None,
        "error": "FLAG_NOT_FOUND",
    }

    # And an empty list names no flag
    assert results(api.user("u-1").evaluate({"flags": []})) == {}


def test_a_tenant_without_flags_answers_nothing_or_flag_not_found(api: Api) -> None:
    user = api.user("u-1")

    assert results(user.evaluate()) == {}
    assert ok(user.evaluate())["flag_set_version"] == 0
    assert results(user.evaluate({"flags": ["anything"]}))["anything"]["error"] == "FLAG_NOT_FOUND"


def test_a_request_that_is_not_an_evaluation_request_is_refused(api: Api) -> None:
    problem(api.user("u-1").evaluate({"flags": "new-checkout"}), 422, "VAL_REQUEST_INVALID")
    problem(api.user("u-1").evaluate({"everything": True}), 422, "VAL_REQUEST_INVALID")
    problem(api.user("u-1").evaluate({"flags": ["Not A Key"]}), 422, "VAL_REQUEST_INVALID")


def test_a_caller_without_a_token_is_refused(api: Api) -> None:
    response = api.as_(authenticated=False).call("flags_evaluate", body={})

    assert response["statusCode"] == 401
    assert body_of(response)["code"].startswith("AUTH_")


# --- segments -----------------------------------------------------------------------------------------------


def test_a_rule_on_a_segment_serves_its_members(api: Api) -> None:
    # Given segment beta (one listed user, plus everyone on the pro plan) and a flag on for it
    conditions = [{"attribute": "plan", "operator": "eq", "value": "pro"}]
    ok(api.put_segment("beta", segment_body("beta", ["u-beta"], conditions=conditions)))
    ok(api.create(segment_flag()), 201)

    # Then a listed user and a pro user get it by the rule, anyone else falls through
    member = results(api.user("u-beta").evaluate({"flags": ["beta-feature"]}))["beta-feature"]
    assert served(member) == (True, "on", "TARGETING_MATCH", "beta-users")
    pro = results(api.user("u-pro", plan="pro").evaluate({"flags": ["beta-feature"]}))["beta-feature"]
    assert served(pro) == (True, "on", "TARGETING_MATCH", "beta-users")
    outsider = results(api.user("u-other", plan="free").evaluate({"flags": ["beta-feature"]}))["beta-feature"]
    assert served(outsider) == (False, "off", "DEFAULT", None)

    # And once the segment lists another user, the change reaches evaluation (a new container here)
    ok(api.put_segment("beta", segment_body("beta", ["u-other"])))
    fresh()
    assert results(api.user("u-other").evaluate())["beta-feature"]["value"] is True
    assert results(api.user("u-beta").evaluate())["beta-feature"]["value"] is False


# --- the kill switch ----------------------------------------------------------------------------------------


def test_a_killed_flag_serves_its_off_value_at_once_in_a_new_container(api: Api) -> None:
    # Given a flag that is on for a German user, and another flag
    ok(api.create(flag_body("new-checkout")), 201)
    ok(api.create(variants_flag()), 201)
    user = api.user("u-1", country="DE")
    assert results(user.evaluate())["new-checkout"]["value"] is True

    # When an admin kills it and the next evaluation comes from a cold cache
    ok(api.kill(flag="new-checkout"))
    fresh()
    flags = results(user.evaluate())

    # Then it serves its off value as DISABLED, at its version; the other flag is untouched
    assert served(flags["new-checkout"]) == (False, "off", "DISABLED", None)
    assert flags["new-checkout"]["flag_version"] == 1
    assert served(flags["button-colour"]) == ({"hex": "#00f"}, "blue", "STATIC", None)

    # And once revived it serves as before
    ok(api.kill(flag="new-checkout", killed=False))
    fresh()
    assert served(results(user.evaluate())["new-checkout"]) == (True, "on", "TARGETING_MATCH", "beta-markets")


def test_a_kill_reaches_a_warm_container_within_the_stated_bound(api: Api) -> None:
    # Given a container that has just evaluated the flag (its cache is warm)
    ok(api.create(flag_body("new-checkout")), 201)
    user = api.user("u-1", country="DE")
    assert results(user.evaluate())["new-checkout"]["value"] is True

    # When an admin kills it, and the same container keeps evaluating (no reset)
    ok(api.kill(flag="new-checkout"))
    killed_at = time.monotonic()
    seen: list[str] = []
    while time.monotonic() - killed_at < KILL_SWITCH_BOUND_SECONDS:
        reason = results(user.evaluate())["new-checkout"]["reason"]
        seen.append(reason)
        if reason == "DISABLED":
            break
        time.sleep(0.2)

    # Then it serves DISABLED within 5 seconds of the kill, and keeps doing so
    assert seen[-1] == "DISABLED", seen
    assert time.monotonic() - killed_at <= KILL_SWITCH_BOUND_SECONDS
    assert served(results(user.evaluate())["new-checkout"]) == (False, "off", "DISABLED", None)

    # And the revival reaches it the same way, once the check interval (1 s) has passed
    ok(api.kill(flag="new-checkout", killed=False))
    time.sleep(1.1)
    assert results(user.evaluate())["new-checkout"]["reason"] == "TARGETING_MATCH"


def test_killing_a_tag_or_everything_disables_the_flags_it_names(api: Api) -> None:
    # Given two flags tagged checkout (one of them a variants flag) and one that is not
    ok(api.create(flag_body("new-checkout", tags=["checkout"])), 201)
    ok(api.create({**variants_flag("checkout-colour"), "tags": ["checkout", "ui"]}), 201)
    ok(api.create(flag_body("search", tags=["search"])), 201)
    user = api.user("u-1", country="DE")

    # When the tag is killed, the tagged flags serve their off variants; the other is untouched
    ok(api.kill(tag="checkout"))
    fresh()
    flags = results(user.evaluate())
    assert served(flags["new-checkout"]) == (False, "off", "DISABLED", None)
    assert served(flags["checkout-colour"]) == ({"hex": "#0f0"}, "green", "DISABLED", None)
    assert served(flags["search"]) == (True, "on", "TARGETING_MATCH", "beta-markets")

    # When everything is killed, every flag does
    ok(api.kill(all=True))
    fresh()
    assert {r["reason"] for r in results(user.evaluate()).values()} == {"DISABLED"}

    # And reviving everything leaves the tag's kill in force
    ok(api.kill(all=True, killed=False))
    fresh()
    flags = results(user.evaluate())
    assert (flags["new-checkout"]["reason"], flags["search"]["reason"]) == ("DISABLED", "TARGETING_MATCH")


# --- client attributes --------------------------------------------------------------------------------------


def test_a_client_attribute_the_tenant_does_not_allow_is_refused(api: Api) -> None:
    ok(api.create(flag_body("new-checkout")), 201)

    response = api.user("u-1").evaluate({"attributes": {"country": "DE", "plan": "pro"}})

    document = problem(response, 422, "VAL_ATTRIBUTE_NOT_ALLOWED")
    assert document["attributes"] == ["country", "plan"]


def test_an_allowed_client_attribute_is_used_in_rules_but_the_tokens_own_wins(api: Api) -> None:
    # Given a flag on for Germany and France, and settings that let clients send country
    ok(api.create(flag_body("new-checkout")), 201)
    ok(api.put_settings({"client_attributes": ["country"]}))
    fresh()

    # Then a client's country is used by the rule
    from_client = results(api.user("u-1").evaluate({"attributes": {"country": "DE"}}))["new-checkout"]
    assert served(from_client) == (True, "on", "TARGETING_MATCH", "beta-markets")
    elsewhere = results(api.user("u-1").evaluate({"attributes": {"country": "US"}}))["new-checkout"]
    assert served(elsewhere) == (False, "off", "DEFAULT", None)

    # And a token that carries a country wins over the client's, either way
    token_us = results(api.user("u-2", country="US").evaluate({"attributes": {"country": "DE"}}))
    assert served(token_us["new-checkout"]) == (False, "off", "DEFAULT", None)
    token_de = results(api.user("u-3", country="DE").evaluate({"attributes": {"country": "US"}}))
    assert served(token_de["new-checkout"]) == (True, "on", "TARGETING_MATCH", "beta-markets")

    # And an attribute still not allowed is refused
    problem(api.user("u-1").evaluate({"attributes": {"plan": "pro"}}), 422, "VAL_ATTRIBUTE_NOT_ALLOWED")


def test_a_settings_change_reaches_a_warm_container_within_the_stated_bound(api: Api) -> None:
    # Given a container that has just refused a client's country (its cache is warm)
    ok(api.create(flag_body("new-checkout")), 201)
    user = api.user("u-1")
    problem(user.evaluate({"attributes": {"country": "DE"}}), 422, "VAL_ATTRIBUTE_NOT_ALLOWED")

    # When an admin allows country, and the same container keeps evaluating (no reset)
    ok(api.put_settings({"client_attributes": ["country"]}))
    changed_at = time.monotonic()
    response = user.evaluate({"attributes": {"country": "DE"}})
    while response["statusCode"] == 422 and time.monotonic() - changed_at < KILL_SWITCH_BOUND_SECONDS:
        time.sleep(0.2)
        response = user.evaluate({"attributes": {"country": "DE"}})

    # Then the client's country is accepted and used within 5 seconds
    assert served(results(response)["new-checkout"]) == (True, "on", "TARGETING_MATCH", "beta-markets")
    assert time.monotonic() - changed_at <= KILL_SWITCH_BOUND_SECONDS


def test_a_client_cannot_pose_as_another_user(api: Api) -> None:
    # Given a flag on for one user id only, and settings allowing country
    rule = {
        "id": "vip",
        "conditions": [{"attribute": "user_id", "operator": "eq", "value": "u-vip"}],
        "serve": {"value": True},
    }
    ok(api.create(flag_body("vip-only", rules=[rule])), 201)
    ok(api.put_settings({"client_attributes": ["country"]}))
    fresh()

    # Then user_id cannot be sent by the client, and a token attribute named user_id does not override the subject
    problem(api.user("u-1").evaluate({"attributes": {"user_id": "u-vip"}}), 422, "VAL_ATTRIBUTE_NOT_ALLOWED")
    assert results(api.user("u-1", user_id="u-vip").evaluate())["vip-only"]["value"] is False
    assert results(api.user("u-vip").evaluate())["vip-only"]["value"] is True


# --- exposures ----------------------------------------------------------------------------------------------


def receive_all(deployment: Deployment, url: str) -> list[dict[str, Any]]:
    """Every message waiting in the queue (received, not deleted)."""
    sqs = deployment.client("sqs")
    messages: list[dict[str, Any]] = []
    for _ in range(5):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch and messages:
            break
        messages += batch
    return messages


def sqs_event(messages: list[dict[str, Any]], queue_url: str) -> dict[str, Any]:
    """Received messages as the SQS event Lambda's poller hands the worker."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:000000000000:{queue_url.rsplit('/', 1)[-1]}",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def test_a_sampled_evaluation_is_counted_by_the_worker_and_reported(api: Api, deployment: Deployment) -> None:
    trigger = by_name("flag_exposure_worker").trigger
    assert isinstance(trigger, Queue)
    url = deployment.exposure_queue_url
    # Given two flags and settings that sample every evaluation
    ok(api.create(flag_body("new-checkout")), 201)
    ok(api.create(variants_flag()), 201)
    ok(api.put_settings({"exposure_sample_rate": 1.0}))
    fresh()

    # When a German user evaluates all flags, and an unknown one
    ok(api.user("u-1", country="DE").evaluate({"flags": ["new-checkout", "button-colour", "nowhere"]}))

    # Then one message is on the exposure queue, with both served flags, the day and the rate, and no user id
    messages = receive_all(deployment, url)
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    today = datetime.now(UTC).date().isoformat()
    assert (event["tenant"], event["day"], event["rate"]) == (TENANT, today, 1.0)
    assert len(event["id"]) == 32
    assert sorted(event["exposures"], key=lambda x: x["flag"]) == [
        {"flag": "button-colour", "variant": "blue", "reason": "STATIC"},
        {"flag": "new-checkout", "variant": "on", "reason": "TARGETING_MATCH"},
    ]
    assert "u-1" not in messages[0]["Body"]

    # When the worker gets it as Lambda delivers it
    worker = load_handler("flag_exposure_worker")
    answer = worker.lambda_handler(sqs_event(messages, url), FakeLambdaContext())

    # Then it is counted (nothing failed), and the exposures route reports it per day and variant
    assert answer == {"batchItemFailures": []}
    report = ok(api.exposures("new-checkout"))
    assert report == {
        "flag_key": "new-checkout",
        "counts": [{"day": today, "variant": "on", "sampled": 1, "estimated": 1.0}],
    }
    assert ok(api.exposures("button-colour"))["counts"] == [
        {"day": today, "variant": "blue", "sampled": 1, "estimated": 1.0}
    ]

    # And another user's evaluation adds to the counts, per variant
    ok(api.user("u-2", country="US").evaluate({"flags": ["new-checkout"]}))
    more = receive_all(deployment, url)
    assert len(more) == 1
    assert worker.lambda_handler(sqs_event(more, url), FakeLambdaContext()) == {"batchItemFailures": []}
    counts = {c["variant"]: (c["sampled"], c["estimated"]) for c in ok(api.exposures("new-checkout"))["counts"]}
    assert counts == {"on": (1, 1.0), "off": (1, 1.0)}


def test_exposures_are_estimated_from_their_sample_rate(api: Api, deployment: Deployment) -> None:
    # Given a flag, and two exposure events sampled at 25 % (as a tenant at that rate sends them)
    ok(api.create(flag_body("new-checkout")), 201)
    day = datetime.now(UTC).date().isoformat()
    event = {"tenant": TENANT, "day": day, "rate": 0.25, "exposures": [{"flag": "new-checkout", "variant": "on"}]}
    bad = {**event, "rate": 0}
    messages = [
        {"MessageId": f"m-{n}", "ReceiptHandle": f"r-{n}", "Body": json.dumps(body)}
        for n, body in enumerate([event, event, bad])
    ]

    # When the worker counts them
    answer = load_handler("flag_exposure_worker").lambda_handler(
        sqs_event(messages, deployment.exposure_queue_url), FakeLambdaContext()
    )

    # Then each stands for four evaluations; the malformed one alone goes back to the queue
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert ok(api.exposures("new-checkout", days="1"))["counts"] == [
        {"day": day, "variant": "on", "sampled": 2, "estimated": 8.0}
    ]


def exposure_messages(*bodies: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """SQS messages as Lambda delivers them: (message id, body) each."""
    return [{"MessageId": mid, "ReceiptHandle": f"r-{mid}", "Body": json.dumps(body)} for mid, body in bodies]


def count(deployment: Deployment, messages: list[dict[str, Any]]) -> dict[str, Any]:
    event = sqs_event(messages, deployment.exposure_queue_url)
    answer: dict[str, Any] = load_handler("flag_exposure_worker").lambda_handler(event, FakeLambdaContext())
    return answer


def test_an_exposure_event_counts_once_however_often_it_is_delivered(api: Api, deployment: Deployment) -> None:
    # Given a flag, one event with an id and one without (an event sent before events had ids)
    ok(api.create(flag_body("new-checkout")), 201)
    day = datetime.now(UTC).date().isoformat()
    base = {"tenant": TENANT, "day": day, "rate": 0.5}
    named = {**base, "id": "e-1", "exposures": [{"flag": "new-checkout", "variant": "on"}]}
    unnamed = {**base, "exposures": [{"flag": "new-checkout", "variant": "off"}]}

    # When SQS delivers each of them again (the named one also as a second message: a send whose answer was lost)
    assert count(deployment, exposure_messages(("m-1", named), ("m-2", unnamed))) == {"batchItemFailures": []}
    again = exposure_messages(("m-1", named), ("m-2", unnamed), ("m-3", named))
    assert count(deployment, again) == {"batchItemFailures": []}

    # Then each counted once
    counts = {c["variant"]: (c["sampled"], c["estimated"]) for c in ok(api.exposures("new-checkout"))["counts"]}
    assert counts == {"on": (1, 2.0), "off": (1, 2.0)}


def test_an_event_cut_short_is_completed_on_redelivery_without_counting_twice(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tenant of 150 flags and an evaluation of all of them, sampled (more than one transaction can hold)
    keys = [f"flag-{n:03d}" for n in range(150)]
    for key in keys[:3]:
        ok(api.create(flag_body(key)), 201)
    day = datetime.now(UTC).date().isoformat()
    event = {
        "id": "e-big",
        "tenant": TENANT,
        "day": day,
        "rate": 1.0,
        "exposures": [{"flag": key, "variant": "on"} for key in keys],
    }

    # When the table fails after the first part was counted
    real_transact = TableGateway.transact
    sent: list[int] = []

    def failing_second(gateway: TableGateway, items: list[dict[str, Any]]) -> Any:
        sent.append(len(items))
        if len(sent) == 2:
            raise DependencyUnavailableError("table", "ProvisionedThroughputExceededException")
        return real_transact(gateway, items)

    monkeypatch.setattr(TableGateway, "transact", failing_second)
    with pytest.raises(BatchProcessingError):  # a batch whose every record failed goes back whole
        count(deployment, exposure_messages(("m-big", event)))
    assert sent == [100, 52]
    assert [c["sampled"] for c in ok(api.exposures(keys[0]))["counts"]] == [1]
    assert ok(api.exposures(keys[2]))["counts"][0]["sampled"] == 1
    monkeypatch.setattr(TableGateway, "transact", real_transact)

    # Then the redelivery counts the rest, and a third delivery changes nothing
    assert count(deployment, exposure_messages(("m-big", event))) == {"batchItemFailures": []}
    assert count(deployment, exposure_messages(("m-big", event))) == {"batchItemFailures": []}
    table = deployment.client("dynamodb")
    stored = table.query(
        TableName=deployment.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{TENANT}#FLAGEXPOSURES"}},
    )["Items"]
    assert len(stored) == 150
    assert {int(item["sampled"]["N"]) for item in stored} == {1}


def test_no_exposure_is_sent_when_sampling_is_off(api: Api, deployment: Deployment) -> None:
    ok(api.create(flag_body("new-checkout")), 201)
    ok(api.put_settings({"exposure_sample_rate": 0.0}))
    fresh()

    for n in range(5):
        ok(api.user(f"u-{n}").evaluate())

    sqs = deployment.client("sqs")
    assert sqs.receive_message(QueueUrl=deployment.exposure_queue_url, WaitTimeSeconds=0).get("Messages", []) == []


# --- erasure ------------------------------------------------------------------------------------------------


def test_forgetting_a_user_takes_them_out_of_segments_and_user_id_conditions(api: Api) -> None:
    # Given segment beta listing u-gone, and a flag whose rules name u-gone: alone (in a list and as eq), with
    # another user, and as an exclusion
    ok(api.put_segment("beta", segment_body("beta", ["u-gone", "u-stay"])))
    rules = [
        {
            "id": "only-gone",
            "conditions": [{"attribute": "user_id", "operator": "in", "value": ["u-gone"]}],
            "serve": {"value": True},
        },
        {
            "id": "gone-by-eq",
            "conditions": [{"attribute": "user_id", "operator": "eq", "value": "u-gone"}],
            "serve": {"value": True},
        },
        {
            "id": "gone-and-friend",
            "conditions": [{"attribute": "user_id", "operator": "in", "value": ["u-gone", "u-friend"]}],
            "serve": {"value": True},
        },
        {
            "id": "germany-but-gone",
            "conditions": [
                {"attribute": "user_id", "operator": "not_in", "value": ["u-gone"]},
                {"attribute": "country", "operator": "eq", "value": "DE"},
            ],
            "serve": {"value": True},
        },
    ]
    ok(api.create(flag_body("vip", rules=rules)), 201)
    ok(api.create(segment_flag()), 201)
    ok(api.create(flag_body("untouched")), 201)
    assert results(api.user("u-gone").evaluate())["vip"]["rule_id"] == "only-gone"
    assert results(api.user("u-anyone").evaluate())["vip"]["value"] is False

    # When the user is forgotten
    changed = flag_service().forget_user(TENANT, "u-gone")

    # Then the segment and the flag naming them changed, and nothing else
    assert sorted(changed) == ["flag:vip", "segment:beta"]
    assert ok(api.get_segment("beta"))["users"] == ["u-stay"]
    vip = ok(api.get("vip"))
    assert vip["version"] == 2
    assert [rule["id"] for rule in vip["rules"]] == ["gone-and-friend", "germany-but-gone"]
    assert vip["rules"][0]["conditions"] == [{"attribute": "user_id", "operator": "in", "value": ["u-friend"]}]
    assert vip["rules"][1]["conditions"] == [{"attribute": "country", "operator": "eq", "value": "DE"}]
    assert "u-gone" not in json.dumps(vip)
    assert (ok(api.get("beta-feature"))["version"], ok(api.get("untouched"))["version"]) == (1, 1)

    # And the rules that served only them were dropped, not opened to everyone
    fresh()
    for user in ("u-anyone", "u-gone"):
        assert served(results(api.user(user).evaluate())["vip"]) == (False, "off", "DEFAULT", None)
    assert results(api.user("u-friend").evaluate())["vip"]["rule_id"] == "gone-and-friend"
    assert results(api.user("u-gone", country="DE").evaluate())["vip"]["rule_id"] == "germany-but-gone"
    assert results(api.user("u-gone").evaluate())["beta-feature"]["value"] is False
    assert results(api.user("u-stay").evaluate())["beta-feature"]["value"] is True

    # And each change is a version made by the erasure, audited without the user's id
    history = ok(api.history("vip"))["items"]
    assert (history[0]["version"], history[0]["changed_by"]) == (2, "system:erasure")
    # And no stored version, and no diff, still holds their id (version 1 was rewritten in place)
    assert [entry["version"] for entry in history] == [2, 1]
    assert "u-gone" not in json.dumps(history)
    assert history[1]["flag"]["rules"] == vip["rules"]
    erased = [e for e in api.audit() if e.actor == "system:erasure"]
    assert sorted((e.action, e.target) for e in erased) == [
        ("flag.user_forgotten", "flag:vip"),
        ("flag.user_forgotten", "segment:beta"),
    ]
    assert all("u-gone" not in json.dumps(e.model_dump(mode="json")) for e in erased)

    # And forgetting them again changes nothing
    assert flag_service().forget_user(TENANT, "u-gone") == []
    assert ok(api.get("vip"))["version"] == 2


def test_forgetting_a_user_in_one_tenant_leaves_the_others(api: Api) -> None:
    other = api.as_(tenant=OTHER_TENANT)
    rule = {
        "id": "one",
        "conditions": [{"attribute": "user_id", "operator": "in", "value": ["u-1"]}],
        "serve": {"value": True},
    }
    ok(api.create(flag_body("vip", rules=[rule])), 201)
    ok(other.create(flag_body("vip", rules=[rule])), 201)

    assert flag_service().forget_user(OTHER_TENANT, "u-1") == ["flag:vip"]

    assert ok(api.get("vip"))["rules"][0]["conditions"][0]["value"] == ["u-1"]
    assert ok(other.get("vip"))["rules"] == []


# --- tenants ------------------------------------------------------------------------------------------------


def test_a_user_of_another_tenant_evaluates_none_of_this_tenants_flags(api: Api) -> None:
    # Given flags of t-acme, one of them killed there, and settings of t-acme allowing country
    ok(api.create(flag_body("new-checkout")), 201)
    ok(api.create(flag_body("killed-here")), 201)
    ok(api.kill(flag="killed-here"))
    ok(api.put_settings({"client_attributes": ["country"]}))
    ok(api.as_(tenant=OTHER_TENANT).create(flag_body("killed-here")), 201)
    fresh()

    # When a user of another tenant evaluates all flags, and t-acme's by name
    stranger = api.user("u-1", tenant=OTHER_TENANT, country="DE")
    everything = results(stranger.evaluate())
    named = results(stranger.evaluate({"flags": ["new-checkout"]}))

    # Then they see only their own tenant's flag, unkilled, and none of t-acme's settings
    assert set(everything) == {"killed-here"}
    assert everything["killed-here"]["reason"] == "TARGETING_MATCH"
    assert (named["new-checkout"]["reason"], named["new-checkout"]["error"]) == ("ERROR", "FLAG_NOT_FOUND")
    problem(stranger.evaluate({"attributes": {"country": "DE"}}), 422, "VAL_ATTRIBUTE_NOT_ALLOWED")

    # And a kill of everything in the other tenant does not reach t-acme's users
    ok(api.as_(tenant=OTHER_TENANT).kill(all=True))
    fresh()
    assert results(stranger.evaluate())["killed-here"]["reason"] == "DISABLED"
    acme = results(api.user("u-1", country="DE").evaluate())
    assert (acme["new-checkout"]["reason"], acme["killed-here"]["reason"]) == ("TARGETING_MATCH", "DISABLED")


@pytest.mark.parametrize("roles", ["user", "user,admin"])
def test_users_and_admins_may_evaluate(api: Api, roles: str) -> None:
    ok(api.create(flag_body("new-checkout")), 201)

    assert "new-checkout" in results(api.as_(subject="u-9", roles=roles).evaluate())
