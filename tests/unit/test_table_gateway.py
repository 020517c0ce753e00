"""The table gateway: what each SDK answer becomes, what it sends again and how often, with a stub client (no sockets).

The stub stands where the boto3 Table resource's client stands; it records each request and plays the next answer:
a response, or an exception as botocore raises it (``ClientError`` carrying the service's answer, ``BotoCoreError``
when there was none), or an ``ItemRefusedError`` as the item-rule hook raises it before a request leaves.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from firstmile.errors import DependencyUnavailableError, ItemRefusedError, VersionConflictError
from firstmile.platform.gateway import (
    CONDITION_FAILED,
    TRANSACT_ATTEMPTS,
    TRANSACTION_CONFLICT,
    TableGateway,
    partition,
)

TABLE = "firstmile-test"


class StubClient:
    """Answers each request with the next of ``answers`` and records what was sent."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def send(**request: Any) -> Any:
            self.sent.append((operation, request))
            answer = self.answers.pop(0) if self.answers else {}
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return send

    @property
    def operations(self) -> list[str]:
        return [operation for operation, _ in self.sent]


class Stubbed:
    """A gateway over a stub client, with the pauses it took recorded instead of slept."""

    def __init__(self, *answers: Any) -> None:
        self.client = StubClient(list(answers))
        self.pauses: list[int] = []
        table: Any = SimpleNamespace(name=TABLE, meta=SimpleNamespace(client=self.client))
        self.gateway = TableGateway(table, wait=self.pauses.append)


def refused(code: str, operation: str = "PutItem", **answer: Any) -> ClientError:
    """The service's refusal, as botocore raises it."""
    return ClientError({"Error": {"Code": code, "Message": "refused"}, **answer}, operation)  # type: ignore[arg-type]


def cancelled(*codes: str, item: dict[str, Any] | None = None) -> ClientError:
    """A cancelled transaction with one reason per item; ``item`` (typed) rides on the first failed condition."""
    reasons: list[dict[str, Any]] = [{"Code": code} for code in codes]
    if item is not None:
        reasons[codes.index(CONDITION_FAILED)]["Item"] = item
    return refused("TransactionCanceledException", "TransactWriteItems", CancellationReasons=reasons)


KEY = {"pk": "P", "sk": "S"}


def put(n: int) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {"pk": "P", "sk": f"S{n}"}}}


# --- what a failure becomes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (refused("ProvisionedThroughputExceededException", "GetItem"), "ProvisionedThroughputExceededException"),
        (refused("ResourceNotFoundException", "GetItem"), "ResourceNotFoundException"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "EndpointConnectionError"),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), "ReadTimeoutError"),
    ],
)
def test_every_other_failure_of_the_sdk_is_an_unavailable_table(failure: Exception, reason: str) -> None:
    # Given a table that fails to answer as botocore reports it
    stub = Stubbed(failure)

    # When an item is read
    with pytest.raises(DependencyUnavailableError) as unavailable:
        stub.gateway.get(KEY)

    # Then the failure names the table and the service's code (or the SDK's exception), and nothing is sent again
    assert (unavailable.value.component, unavailable.value.reason) == ("table", reason)
    assert stub.client.operations == ["get_item"]


@pytest.mark.parametrize("write", ["put", "put_new", "transact", "update_if"])
def test_an_item_rule_refusal_stays_the_requests_fault(write: str) -> None:
    # Given a write the item rules refuse before it leaves the process
    stub = Stubbed(ItemRefusedError("item_size", "The item would be about 500 KB."))
    calls = {
        "put": lambda: stub.gateway.put({**KEY, "big": "x"}),
        "put_new": lambda: stub.gateway.put_new({**KEY, "big": "x"}),
        "transact": lambda: stub.gateway.transact([put(1)]),
        "update_if": lambda: stub.gateway.update_if(KEY, "SET big = :x", values={":x": "x"}),
    }

    # Then it is answered as the item's refusal, not as an unavailable table
    with pytest.raises(ItemRefusedError) as refusal:
        calls[write]()
    assert refusal.value.too_large


def test_an_exception_that_is_not_the_sdks_is_not_disguised() -> None:
    stub = Stubbed(TypeError("a defect"))

    with pytest.raises(TypeError):
        stub.gateway.get(KEY)


# --- reads -------------------------------------------------------------------------------------------------------


def test_get_answers_the_item_or_none_and_reads_consistently_by_default() -> None:
    stub = Stubbed({"Item": {**KEY, "name": "one"}}, {})

    assert stub.gateway.get(KEY) == {**KEY, "name": "one"}
    assert stub.gateway.get(KEY, consistent=False, projection="#n", names={"#n": "name"}) is None

    (_, first), (_, second) = stub.client.sent
    assert first == {"TableName": TABLE, "Key": KEY, "ConsistentRead": True}
    assert second == {
        "TableName": TABLE,
        "Key": KEY,
        "ConsistentRead": False,
        "ProjectionExpression": "#n",
        "ExpressionAttributeNames": {"#n": "name"},
    }


def test_get_many_asks_again_for_unprocessed_keys_and_answers_in_the_order_asked() -> None:
    # Given 101 keys: the first request of 100 leaves two unprocessed, which come on the next
    keys = [{"pk": f"P{n}", "sk": "S"} for n in range(101)]
    stub = Stubbed(
        {
            "Responses": {TABLE: [dict(k, n=n) for n, k in enumerate(keys[:100]) if n not in (3, 42)][::-1]},
            "UnprocessedKeys": {TABLE: {"Keys": [keys[3], keys[42]]}},
        },
        {"Responses": {TABLE: [dict(keys[42], n=42), dict(keys[3], n=3)]}},
        {"Responses": {TABLE: []}},
    )

    # When they are read
    items = stub.gateway.get_many(keys)

    # Then every item that exists comes once, in the order of the keys, after one pause
    assert [item["n"] for item in items] == list(range(100))
    assert [len(request["RequestItems"][TABLE]["Keys"]) for _, request in stub.client.sent] == [100, 2, 1]
    assert stub.pauses == [1]


def test_get_many_gives_up_on_keys_that_stay_unprocessed() -> None:
    unprocessed = {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: {"Keys": [{"pk": "P", "sk": "S"}]}}}
    stub = Stubbed(*[unprocessed] * TRANSACT_ATTEMPTS)

    with pytest.raises(DependencyUnavailableError):
        stub.gateway.get_many([{"pk": "P", "sk": "S"}])
    assert len(stub.client.sent) == TRANSACT_ATTEMPTS


@pytest.mark.parametrize(
    ("condition", "expression", "names", "values"),
    [
        (partition("A"), "#k0 = :k0", {"#k0": "pk"}, {":k0": "A"}),
        (
            partition("A").begins_with("FLAG#"),
            "#k0 = :k0 AND begins_with(#k1, :k1)",
            {"#k0": "pk", "#k1": "sk"},
            {":k0": "A", ":k1": "FLAG#"},
        ),
        (
            partition("A", index="gsi1").between("E#1", "E#2"),
            "#k0 = :k0 AND #k1 BETWEEN :k1 AND :k2",
            {"#k0": "gsi1pk", "#k1": "gsi1sk"},
            {":k0": "A", ":k1": "E#1", ":k2": "E#2"},
        ),
        (
            partition("A", index="gsi1").at_least("E#1"),
            "#k0 = :k0 AND #k1 >= :k1",
            {"#k0": "gsi1pk", "#k1": "gsi1sk"},
            {":k0": "A", ":k1": "E#1"},
        ),
    ],
)
def test_key_conditions_name_the_keys_of_the_table_or_its_index(
    condition: Any, expression: str, names: dict[str, str], values: dict[str, Any]
) -> None:
    assert condition.render() == (expression, names, values)


def test_a_key_condition_on_an_index_the_table_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="no index"):
        partition("A", index="gsi9").render()


def test_a_query_merges_its_filter_with_the_key_condition_and_refuses_clashing_placeholders() -> None:
    stub = Stubbed({"Items": [{**KEY}]})

    page = stub.gateway.query(
        partition("A", index="gsi1"),
        limit=5,
        start_key={"pk": "A", "sk": "B", "gsi1pk": "A", "gsi1sk": "C"},
        newest_first=True,
        consistent=True,
        filter="#a = :a",
        names={"#a": "action"},
        values={":a": "flag.created"},
    )

    assert (page.items, page.last_key) == ([KEY], None)
    ((_, request),) = stub.client.sent
    assert request == {
        "TableName": TABLE,
        "IndexName": "gsi1",
        "KeyConditionExpression": "#k0 = :k0",
        "FilterExpression": "#a = :a",
        "ExpressionAttributeNames": {"#k0": "gsi1pk", "#a": "action"},
        "ExpressionAttributeValues": {":k0": "A", ":a": "flag.created"},
        "ScanIndexForward": False,
        "ConsistentRead": True,
        "Limit": 5,
        "ExclusiveStartKey": {"pk": "A", "sk": "B", "gsi1pk": "A", "gsi1sk": "C"},
    }
    with pytest.raises(ValueError, match="placeholders"):
        stub.gateway.query(partition("A"), filter=":k0 > 1", values={":k0": 1})


def test_query_page_hands_out_a_cursor_that_continues_where_the_page_ended() -> None:
    # Given a list of two pages
    last = {"pk": "TENANT#t#FLAGS", "sk": "FLAG#b"}
    stub = Stubbed({"Items": [{"sk": "FLAG#a"}, {"sk": "FLAG#b"}], "LastEvaluatedKey": last}, {"Items": [{"sk": "c"}]})
    flags = partition("TENANT#t#FLAGS").begins_with("FLAG#")

    # When a client reads the first page, then the next with the cursor it got
    first, cursor = stub.gateway.query_page(flags, limit=1000, cursor=None, scope="flags of t")
    second, end = stub.gateway.query_page(flags, limit=0, cursor=cursor, scope="flags of t")

    # Then the cursor is opaque, the second query starts after the first page, and the limit is held to 1-100
    assert cursor is not None and "FLAG#b" not in cursor
    assert [len(first), len(second), end] == [2, 1, None]
    (_, one), (_, two) = stub.client.sent
    assert (one["Limit"], "ExclusiveStartKey" in one) == (100, False)
    assert (two["Limit"], two["ExclusiveStartKey"]) == (1, last)


def test_a_cursor_of_another_list_is_refused_before_anything_is_read() -> None:
    stub = Stubbed({"Items": [], "LastEvaluatedKey": {"pk": "TENANT#t#FLAGS", "sk": "FLAG#b"}})
    _, cursor = stub.gateway.query_page(partition("TENANT#t#FLAGS"), limit=1, cursor=None, scope="flags of t")
    stub.client.sent.clear()

    with pytest.raises(Exception) as refusal:  # noqa: PT011 - the cursor's refusal, checked by its code below
        stub.gateway.query_page(partition("TENANT#u#FLAGS"), limit=1, cursor=cursor, scope="flags of u")

    assert _code_of(refusal.value) == "VAL_CURSOR_INVALID"
    assert stub.client.sent == []


def test_query_all_reads_page_after_page_and_no_further_than_asked() -> None:
    stub = Stubbed(
        {"Items": [{"n": 1}], "LastEvaluatedKey": {"pk": "A", "sk": "1"}},
        {"Items": [{"n": 2}], "LastEvaluatedKey": {"pk": "A", "sk": "2"}},
        {"Items": [{"n": 3}]},
    )

    everything = stub.gateway.query_all(partition("A"))
    assert next(everything) == {"n": 1}
    assert len(stub.client.sent) == 1
    assert [item["n"] for item in everything] == [2, 3]
    assert [request.get("ExclusiveStartKey") for _, request in stub.client.sent] == [
        None,
        {"pk": "A", "sk": "1"},
        {"pk": "A", "sk": "2"},
    ]


# --- single writes -----------------------------------------------------------------------------------------------


def test_put_new_answers_whether_it_wrote() -> None:
    stub = Stubbed({}, refused("ConditionalCheckFailedException"))

    assert stub.gateway.put_new(KEY) is True
    assert stub.gateway.put_new(KEY) is False
    assert stub.client.sent[0][1]["ConditionExpression"] == "attribute_not_exists(pk)"


def test_a_stale_versioned_write_carries_the_stored_item_from_the_refusal_itself() -> None:
    # Given an item stored at version 3, which DynamoDB returns with its refusal
    stored = {"pk": {"S": "P"}, "sk": {"S": "S"}, "name": {"S": "three"}, "version": {"N": "3"}}
    stub = Stubbed(refused("ConditionalCheckFailedException", Item=stored))

    # When a writer that read version 2 writes
    with pytest.raises(VersionConflictError) as conflict:
        stub.gateway.put_if_version({**KEY, "name": "stale"}, 2)

    # Then it learns the stored item, as plain values, without a second request
    assert conflict.value.current == {**KEY, "name": "three", "version": Decimal(3)}
    assert conflict.value.current_version == 3
    ((_, request),) = stub.client.sent
    assert request["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert request["Item"]["version"] == 3
    assert request["ExpressionAttributeValues"] == {":expected": 2}


def test_a_versioned_create_is_conditioned_on_absence_and_a_gone_item_conflicts_without_state() -> None:
    stub = Stubbed({}, refused("ConditionalCheckFailedException"))

    assert stub.gateway.put_if_version(KEY, 0) == {**KEY, "version": 1}
    with pytest.raises(VersionConflictError) as conflict:
        stub.gateway.put_if_version(KEY, 0)

    assert (conflict.value.current, conflict.value.current_version) == (None, None)
    assert stub.client.sent[0][1]["ConditionExpression"] == "attribute_not_exists(pk)"


def test_update_if_answers_the_returned_attributes_or_none_when_its_condition_failed() -> None:
    stub = Stubbed({"Attributes": {"count": Decimal(4)}}, refused("ConditionalCheckFailedException", "UpdateItem"))

    assert stub.gateway.update_if(KEY, "ADD #c :one", names={"#c": "count"}, values={":one": 1}, returns="ALL_NEW")
    assert stub.gateway.update_if(KEY, "SET a = :a", condition="attribute_exists(pk)", values={":a": 1}) is None
    assert stub.client.sent[1][1]["ConditionExpression"] == "attribute_exists(pk)"


def test_an_update_that_meets_a_transaction_is_sent_again_after_a_pause() -> None:
    conflict = refused("TransactionConflictException", "UpdateItem")
    stub = Stubbed(conflict, conflict, {"Attributes": {"count": Decimal(1)}})

    assert stub.gateway.update_if(KEY, "ADD #c :one", names={"#c": "count"}, values={":one": 1}) == {"count": 1}
    assert (stub.client.operations, stub.pauses) == (["update_item"] * 3, [1, 2])


def test_an_update_that_stays_contended_is_an_unavailable_table() -> None:
    stub = Stubbed(*[refused("TransactionConflictException", "UpdateItem")] * TRANSACT_ATTEMPTS)

    with pytest.raises(DependencyUnavailableError) as unavailable:
        stub.gateway.update_if(KEY, "SET a = :a", values={":a": 1})

    assert unavailable.value.reason == "TransactionConflictException"
    assert len(stub.client.sent) == TRANSACT_ATTEMPTS


def test_delete_many_sends_batches_of_25_and_sends_again_what_was_left_unprocessed() -> None:
    # Given 30 items, of which DynamoDB leaves one unprocessed the first time
    keys = [{"pk": "U", "sk": f"S{n}"} for n in range(30)]
    left = {"UnprocessedItems": {TABLE: [{"DeleteRequest": {"Key": keys[3]}}]}}
    stub = Stubbed(left, {}, {})

    # When they are deleted
    stub.gateway.delete_many(keys)

    # Then every key was sent, the unprocessed one again after a pause
    batches = [request["RequestItems"][TABLE] for _, request in stub.client.sent]
    assert [len(batch) for batch in batches] == [25, 1, 5]
    assert batches[1] == [{"DeleteRequest": {"Key": keys[3]}}]
    assert stub.pauses == [1]


def test_delete_many_that_keeps_leaving_items_is_an_unavailable_table() -> None:
    left = {"UnprocessedItems": {TABLE: [{"DeleteRequest": {"Key": KEY}}]}}
    stub = Stubbed(*[left] * 20)

    with pytest.raises(DependencyUnavailableError):
        stub.gateway.delete_many([KEY])

    assert len(stub.client.sent) == 8


# --- transactions ------------------------------------------------------------------------------------------------


def test_a_transaction_that_applied_answers_none() -> None:
    stub = Stubbed({})

    assert stub.gateway.transact([put(1), put(2)]) is None
    assert stub.client.sent == [("transact_write_items", {"TransactItems": [put(1), put(2)]})]


def test_a_failed_condition_answers_each_items_reason_with_the_stored_item_as_plain_values() -> None:
    stub = Stubbed(cancelled("None", CONDITION_FAILED, item={"pk": {"S": "P"}, "version": {"N": "7"}}))

    reasons = stub.gateway.transact([put(1), put(2)])

    assert reasons == [{"Code": "None"}, {"Code": CONDITION_FAILED, "Item": {"pk": "P", "version": Decimal(7)}}]
    assert stub.pauses == []


def test_a_transaction_that_meets_another_is_sent_again_with_jittered_pauses() -> None:
    stub = Stubbed(cancelled(TRANSACTION_CONFLICT, "None"), cancelled("None", TRANSACTION_CONFLICT), {})

    assert stub.gateway.transact([put(1), put(2)]) is None
    assert (len(stub.client.sent), stub.pauses) == (3, [1, 2])


def test_a_transaction_that_stays_contended_answers_its_reasons_after_the_last_attempt() -> None:
    stub = Stubbed(*[cancelled(TRANSACTION_CONFLICT, "None")] * 10)

    reasons = stub.gateway.transact([put(1), put(2)])

    assert reasons == [{"Code": TRANSACTION_CONFLICT}, {"Code": "None"}]
    assert (len(stub.client.sent), stub.pauses) == (TRANSACT_ATTEMPTS, [1, 2, 3])


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (cancelled("ValidationError", "None"), "TransactionCanceledException: ValidationError, None"),
        (cancelled("None"), "TransactionCanceledException"),  # reasons that do not match the items
        (refused("InternalServerError", "TransactWriteItems"), "InternalServerError"),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), "ReadTimeoutError"),
    ],
)
def test_a_transaction_refused_for_anything_else_is_an_unavailable_table(failure: Exception, reason: str) -> None:
    stub = Stubbed(failure)

    with pytest.raises(DependencyUnavailableError) as unavailable:
        stub.gateway.transact([put(1), put(2)])

    assert unavailable.value.reason == reason
    assert len(stub.client.sent) == 1


def test_actions_are_built_for_the_gateways_table() -> None:
    gateway = Stubbed().gateway

    assert gateway.put_new_action(KEY) == {
        "Put": {"TableName": TABLE, "Item": KEY, "ConditionExpression": "attribute_not_exists(pk)"}
    }
    assert gateway.update_action(
        KEY,
        "SET #v = :v",
        condition="#v = :old",
        names={"#v": "version"},
        values={":v": 2, ":old": 1},
        return_stored=True,
    ) == {
        "Update": {
            "TableName": TABLE,
            "Key": KEY,
            "UpdateExpression": "SET #v = :v",
            "ConditionExpression": "#v = :old",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": 2, ":old": 1},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    assert gateway.delete_action(KEY) == {"Delete": {"TableName": TABLE, "Key": KEY}}


def test_importing_the_gateway_loads_nothing_of_the_sdk() -> None:
    # A fresh interpreter: this one has loaded botocore for the tests above.
    probe = (
        "import sys, firstmile.platform.gateway; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 's3transfer')))"
    )
    loaded = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def _code_of(exc: BaseException) -> str | None:
    """The stable code a refusal carries (a problem's error code, or a domain error's code)."""
    error = getattr(exc, "error", None)
    return getattr(error, "code", None) or getattr(exc, "code", None)


def test_put_if_answers_a_refusal_with_the_stored_item_unless_told_not_to_ask_for_it() -> None:
    stored = {"pk": {"S": "P"}, "sk": {"S": "S"}, "status": {"S": "INPROGRESS"}}
    stub = Stubbed(
        {}, refused("ConditionalCheckFailedException", Item=stored), refused("ConditionalCheckFailedException")
    )

    assert stub.gateway.put_if(KEY, "attribute_not_exists(#id)", names={"#id": "pk"}) is None
    refusal = stub.gateway.put_if(KEY, "#s = :s", names={"#s": "status"}, values={":s": "COMPLETED"})
    bare = stub.gateway.put_if(KEY, "attribute_not_exists(pk)", return_stored=False)

    assert refusal is not None and refusal.stored == {**KEY, "status": "INPROGRESS"}
    assert bare is not None and bare.stored is None
    requests = [request for _, request in stub.client.sent]
    assert [r.get("ReturnValuesOnConditionCheckFailure") for r in requests] == ["ALL_OLD", "ALL_OLD", None]
    assert requests[1]["ExpressionAttributeValues"] == {":s": "COMPLETED"}


# --- over the low-level client: values converted by the gateway ----------------------------------------------------


class StubbedClient(Stubbed):
    """A gateway over a low-level client (no resource to convert values)."""

    def __init__(self, *answers: Any) -> None:
        super().__init__(*answers)
        self.gateway = TableGateway.over_client(self.client, TABLE, wait=self.pauses.append)  # type: ignore[arg-type]


def test_over_the_low_level_client_values_go_out_typed_and_come_back_plain() -> None:
    # Given a table that answers in DynamoDB's typed form
    stub = StubbedClient(
        {"Item": {"pk": {"S": "P"}, "n": {"N": "2"}, "tags": {"SS": ["a"]}}},
        {"Items": [{"pk": {"S": "A"}, "sk": {"S": "1"}}], "LastEvaluatedKey": {"pk": {"S": "A"}, "sk": {"S": "1"}}},
        {"Attributes": {"count": {"N": "5"}}},
    )

    # When it is read, queried and updated with plain values
    item = stub.gateway.get(KEY)
    page = stub.gateway.query(partition("A"), start_key={"pk": "A", "sk": "0"}, filter="n > :n", values={":n": 1})
    attributes = stub.gateway.update_if(
        KEY, "ADD #c :one", names={"#c": "count"}, values={":one": 1}, returns="ALL_NEW"
    )

    # Then the requests carried typed values and the answers are plain
    assert item == {"pk": "P", "n": Decimal(2), "tags": {"a"}}
    assert (page.items, page.last_key) == ([{"pk": "A", "sk": "1"}], {"pk": "A", "sk": "1"})
    assert attributes == {"count": Decimal(5)}
    (_, get), (_, query), (_, update) = stub.client.sent
    assert get["Key"] == {"pk": {"S": "P"}, "sk": {"S": "S"}}
    assert query["ExpressionAttributeValues"] == {":k0": {"S": "A"}, ":n": {"N": "1"}}
    assert query["ExclusiveStartKey"] == {"pk": {"S": "A"}, "sk": {"S": "0"}}
    assert update["ExpressionAttributeValues"] == {":one": {"N": "1"}}


def test_over_the_low_level_client_transactions_and_refusals_are_converted_once() -> None:
    stored = {"pk": {"S": "P"}, "version": {"N": "4"}}
    stub = StubbedClient(
        cancelled(CONDITION_FAILED, "None", item=stored), refused("ConditionalCheckFailedException", Item=stored)
    )
    update = stub.gateway.update_action(KEY, "SET #v = :v", names={"#v": "version"}, values={":v": 5})

    reasons = stub.gateway.transact([stub.gateway.put_new_action({**KEY, "n": 1}), update])
    with pytest.raises(VersionConflictError) as conflict:
        stub.gateway.put_if_version(KEY, 3)

    assert reasons is not None and reasons[0]["Item"] == {"pk": "P", "version": Decimal(4)}
    assert conflict.value.current_version == 4
    (_, transaction), (_, put) = stub.client.sent
    put_action, update_action = transaction["TransactItems"]
    assert put_action["Put"]["Item"] == {"pk": {"S": "P"}, "sk": {"S": "S"}, "n": {"N": "1"}}
    assert update_action["Update"]["Key"] == {"pk": {"S": "P"}, "sk": {"S": "S"}}
    assert update_action["Update"]["ExpressionAttributeValues"] == {":v": {"N": "5"}}
    assert put["Item"]["version"] == {"N": "4"}


def test_over_the_low_level_client_unprocessed_deletes_are_sent_again_as_they_were() -> None:
    typed = {"pk": {"S": "U"}, "sk": {"S": "S1"}}
    stub = StubbedClient({"UnprocessedItems": {TABLE: [{"DeleteRequest": {"Key": typed}}]}}, {})

    stub.gateway.delete_many([{"pk": "U", "sk": "S0"}, {"pk": "U", "sk": "S1"}])

    batches = [request["RequestItems"][TABLE] for _, request in stub.client.sent]
    assert batches[1] == [{"DeleteRequest": {"Key": typed}}]
