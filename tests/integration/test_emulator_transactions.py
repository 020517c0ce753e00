"""The emulator answers a repeated transaction as DynamoDB does: by its client request token, applied once."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local import emulator
from tests.integration.conftest import Deployment


def counter_transaction(deployment: Deployment, pk: str, *, token: str, condition: str | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": deployment.table_name,
        "Key": {"pk": {"S": pk}, "sk": {"S": "COUNTER"}},
        "UpdateExpression": "ADD #n :one",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"TransactItems": [{"Update": update}], "ClientRequestToken": token}


def count(deployment: Deployment, pk: str) -> int | None:
    item = deployment.client("dynamodb").get_item(
        TableName=deployment.table_name, Key={"pk": {"S": pk}, "sk": {"S": "COUNTER"}}, ConsistentRead=True
    )
    return int(item["Item"]["n"]["N"]) if "Item" in item else None


def test_a_resent_transaction_is_applied_once(deployment: Deployment) -> None:
    dynamodb = deployment.client("dynamodb")
    # Given a transaction that applied, and whose answer (say) was lost
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-1", token="t-1"))

    # When the SDK sends it again with the same token, twice
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-1", token="t-1"))
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-1", token="t-1"))

    # Then it succeeded each time and counted once; another token is another transaction
    assert count(deployment, "c-1") == 1
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-1", token="t-2"))
    assert count(deployment, "c-1") == 2


def test_a_resent_transaction_whose_condition_would_now_fail_still_succeeds(deployment: Deployment) -> None:
    # The case that matters: "create if absent", resent after it created the item
    dynamodb = deployment.client("dynamodb")
    create = counter_transaction(deployment, "c-new", token="t-create", condition="attribute_not_exists(pk)")
    dynamodb.transact_write_items(**create)

    dynamodb.transact_write_items(**create)

    assert count(deployment, "c-new") == 1


def test_the_same_token_with_another_request_is_refused(deployment: Deployment) -> None:
    dynamodb = deployment.client("dynamodb")
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-a", token="t-same"))

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(**counter_transaction(deployment, "c-b", token="t-same"))

    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert count(deployment, "c-b") is None


def test_a_cancelled_transaction_leaves_no_token_behind(deployment: Deployment) -> None:
    dynamodb = deployment.client("dynamodb")
    # Given a transaction cancelled by its condition (the item does not exist yet)
    guarded = counter_transaction(deployment, "c-late", token="t-late", condition="attribute_exists(pk)")
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(**guarded)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"

    # When the item appears and the same transaction is sent again
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-late", token="t-first"))
    dynamodb.transact_write_items(**guarded)

    # Then it is judged anew, and applies
    assert count(deployment, "c-late") == 2


def test_a_token_older_than_its_window_names_a_new_transaction(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a window of no time at all (DynamoDB's is 10 minutes)
    monkeypatch.setattr(emulator, "TRANSACTION_TOKEN_SECONDS", 0)
    dynamodb = deployment.client("dynamodb")
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-old", token="t-old"))

    # When the same token comes again after the window
    dynamodb.transact_write_items(**counter_transaction(deployment, "c-old", token="t-old"))

    # Then it was applied again, as a new transaction
    assert count(deployment, "c-old") == 2
