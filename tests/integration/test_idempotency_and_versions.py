"""Idempotency-Key replays and versioned writes against the emulator's table."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel

from firstmile import entrypoints
from firstmile.errors import VersionConflictError
from firstmile.http.idempotency import idempotent
from firstmile.http.resolver import create_app
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway
from firstmile.platform.versioned import ConflictRetry
from tests.factories import body_of, caller, http_event
from tests.integration.conftest import Deployment


class Order(BaseModel):
    item: str


@pytest.fixture
def orders():  # type: ignore[no-untyped-def]
    """A function that creates orders, counting how often its body really runs."""
    app = create_app()
    runs: list[str] = []

    @app.post("/v1/orders")
    def create(order: Annotated[Order, Body()]) -> Response[Any]:
        def produce() -> Response[Any]:
            runs.append(order.item)
            return Response(201, "application/json", f'{{"item": "{order.item}", "n": {len(runs)}}}')

        return idempotent(app, produce)

    return entrypoints.http(app), runs


def post(handler, context, body, key=None, tenant="t-acme", sub="u-1"):  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key} if key else {}
    event = http_event("POST", "/v1/orders", body=body, headers=headers, auth=caller(tenant=tenant, sub=sub))
    return handler(event, context)


def test_a_replay_returns_the_first_response_without_running_again(deployment: Deployment, orders, lambda_context):  # type: ignore[no-untyped-def]
    handler, runs = orders

    first = post(handler, lambda_context, {"item": "book"}, key="k-1")
    replay = post(handler, lambda_context, {"item": "book"}, key="k-1")

    assert first["statusCode"] == replay["statusCode"] == 201
    assert body_of(first) == body_of(replay) == {"item": "book", "n": 1}
    assert runs == ["book"]
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first["headers"]


def test_a_records_table_that_fails_answers_503_and_runs_nothing(deployment: Deployment, orders, lambda_context):  # type: ignore[no-untyped-def]
    handler, runs = orders
    events = aws.dynamodb().meta.events

    def throttled(**_: Any) -> tuple[Any, dict[str, Any]]:
        return SimpleNamespace(status_code=400), {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}

    # When the table throttles every read of the idempotency records
    events.register_first("before-call.dynamodb.GetItem", throttled, unique_id="throttled")
    events.register_first("before-call.dynamodb.PutItem", throttled, unique_id="throttled-put")
    try:
        refused = post(handler, lambda_context, {"item": "book"}, key="k-down")
    finally:
        events.unregister("before-call.dynamodb.GetItem", unique_id="throttled")
        events.unregister("before-call.dynamodb.PutItem", unique_id="throttled-put")

    # Then the caller is told to retry later, and the order was not created
    assert refused["statusCode"] == 503, refused["body"]
    assert body_of(refused)["code"] == "SYS_UNAVAILABLE"
    assert runs == []


def test_the_same_key_with_another_body_is_refused(deployment: Deployment, orders, lambda_context):  # type: ignore[no-untyped-def]
    handler, runs = orders
    post(handler, lambda_context, {"item": "book"}, key="k-2")

    refused = post(handler, lambda_context, {"item": "lamp"}, key="k-2")

    assert refused["statusCode"] == 422
    assert body_of(refused)["code"] == "VAL_IDEMPOTENCY_KEY_REUSED"
    assert runs == ["book"]


def test_keys_are_scoped_to_tenant_and_user(deployment: Deployment, orders, lambda_context):  # type: ignore[no-untyped-def]
    handler, runs = orders

    post(handler, lambda_context, {"item": "book"}, key="shared")
    post(handler, lambda_context, {"item": "book"}, key="shared", tenant="t-other")
    post(handler, lambda_context, {"item": "book"}, key="shared", sub="u-2")

    assert runs == ["book", "book", "book"]


def test_without_a_key_every_request_runs_and_a_bad_key_is_refused(deployment: Deployment, orders, lambda_context):  # type: ignore[no-untyped-def]
    handler, runs = orders

    post(handler, lambda_context, {"item": "a"})
    post(handler, lambda_context, {"item": "a"})
    bad = post(handler, lambda_context, {"item": "a"}, key="has space")

    assert runs == ["a", "a"]
    assert bad["statusCode"] == 400
    assert body_of(bad)["code"] == "VAL_IDEMPOTENCY_KEY_INVALID"


def test_records_live_under_the_tenant_and_expire(deployment: Deployment, orders, lambda_context):  # type: ignore[no-untyped-def]
    handler, _ = orders

    post(handler, lambda_context, {"item": "book"}, key="k-9")

    items = deployment.table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "TENANT#t-acme#IDEMPOTENCY"}
    )["Items"]
    assert len(items) == 1
    assert int(items[0]["expires_at"]) > 0


def test_a_stale_write_gets_the_current_item_in_the_same_call(deployment: Deployment) -> None:
    # Given an item at version 2
    table = deployment.table
    gateway = TableGateway(table)
    gateway.put_if_version({"pk": "P", "sk": "S", "name": "one"}, 0)
    gateway.put_if_version({"pk": "P", "sk": "S", "name": "two"}, 1)
    calls: list[str] = []
    table.meta.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    # When a writer that read version 1 writes
    with pytest.raises(VersionConflictError) as conflict:
        gateway.put_if_version({"pk": "P", "sk": "S", "name": "stale"}, 1)

    # Then it learns the current state without a second request
    assert conflict.value.current_version == 2
    assert conflict.value.current is not None and conflict.value.current["name"] == "two"
    assert calls == ["PutItem"]


def test_concurrent_increments_without_if_match_lose_nothing(deployment: Deployment) -> None:
    # Given a counter item and 8 writers that each add one, retrying when they lose a race
    table = deployment.table
    gateway = TableGateway(table)
    gateway.put_if_version({"pk": "C", "sk": "C", "count": 0}, 0)

    def increment() -> None:
        def attempt() -> None:
            item = table.get_item(Key={"pk": "C", "sk": "C"}, ConsistentRead=True)["Item"]
            gateway.put_if_version({**item, "count": int(item["count"]) + 1}, int(item["version"]))

        ConflictRetry(attempts=50, base_delay_seconds=0.005)(attempt)

    # When they all run at once
    threads = [threading.Thread(target=increment) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every increment is in the final state
    item = table.get_item(Key={"pk": "C", "sk": "C"}, ConsistentRead=True)["Item"]
    assert int(item["count"]) == 8
    assert int(item["version"]) == 9
