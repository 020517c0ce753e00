"""The local table engine behaves as DynamoDB does where Firstmile depends on it (docs/decisions/0028).

It refuses what DynamoDB refuses (the limits an emulator let by before: an empty map key, numbers out of range,
nesting deeper than 32 levels, an item over 400 KB), answers a repeated transaction by its client request token,
serves the table's stream with old and new images, answers on the emulator's one endpoint too, and listens on the
loopback address only.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.dynamodb import REPO_ROOT
from local.emulator import Emulator
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


# --- limits ---------------------------------------------------------------------------------------------------------


def nested(levels: int) -> dict[str, Any]:
    """A map ``levels`` deep (the item's own attribute counts as the first level)."""
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(levels):
        value = {"M": {"n": value}}
    return value


@pytest.mark.parametrize(
    ("case", "value"),
    [
        ("an empty map key", {"M": {"": {"S": "x"}}}),
        ("a number too large", {"N": "1e126"}),
        ("a number too small", {"N": "1e-131"}),
        ("39 significant digits", {"N": "1" * 39}),
        ("maps nested 33 deep", nested(33)),
        ("an item over 400 KB", {"S": "x" * 410_000}),
    ],
)
def test_what_dynamodb_refuses_is_refused(deployment: Deployment, case: str, value: dict[str, Any]) -> None:
    dynamodb = deployment.client("dynamodb")
    item = {"pk": {"S": "limits"}, "sk": {"S": case}, "value": value}

    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName=deployment.table_name, Item=item)

    assert refused.value.response["Error"]["Code"] == "ValidationException", case
    assert "Item" not in dynamodb.get_item(TableName=deployment.table_name, Key={"pk": item["pk"], "sk": item["sk"]})


def test_values_at_the_limits_are_kept_exactly(deployment: Deployment) -> None:
    # Given the extremes DynamoDB accepts: 38 significant digits, the largest and smallest magnitudes, 32 levels
    dynamodb = deployment.client("dynamodb")
    values = {"digits": "9" * 38, "largest": "9.9999999999999999999999999999999999999E+125", "smallest": "1E-130"}
    item = {"pk": {"S": "limits"}, "sk": {"S": "kept"}, "deep": nested(31)}
    dynamodb.put_item(TableName=deployment.table_name, Item=item | {k: {"N": v} for k, v in values.items()})

    # Then they read back as the same numbers (the engine may write them out in another notation)
    stored = dynamodb.get_item(TableName=deployment.table_name, Key={"pk": item["pk"], "sk": item["sk"]})["Item"]
    assert {name: Decimal(stored[name]["N"]) for name in values} == {k: Decimal(v) for k, v in values.items()}
    assert stored["deep"] == item["deep"]


# --- stream, endpoint, address --------------------------------------------------------------------------------------


def test_the_stream_carries_old_and_new_images(deployment: Deployment) -> None:
    # Given an item written, then changed
    deployment.table.put_item(Item={"pk": "stream", "sk": "item", "n": 1})
    deployment.table.put_item(Item={"pk": "stream", "sk": "item", "n": 2})

    # When the table's stream is read from its start
    streams = deployment.client("dynamodbstreams")
    arn = deployment.client("dynamodb").describe_table(TableName=deployment.table_name)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records += streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]

    # Then it holds both changes in order, the second with the image before and after
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    change = records[1]["dynamodb"]
    assert (change["OldImage"]["n"], change["NewImage"]["n"]) == ({"N": "1"}, {"N": "2"})


def test_the_emulators_one_endpoint_reaches_the_same_table(deployment: Deployment) -> None:
    # Given an item written on the engine's own endpoint
    deployment.table.put_item(Item={"pk": "endpoint", "sk": "item", "via": "engine"})

    # When it is read on the emulator's one endpoint, as any AWS tool pointed at the emulator would
    front = boto3.resource("dynamodb", endpoint_url=deployment.endpoint, region_name="us-east-1")
    item = front.Table(deployment.table_name).get_item(Key={"pk": "endpoint", "sk": "item"})["Item"]

    # Then it is the same item, and the engine's errors come through unchanged
    assert item["via"] == "engine"
    with pytest.raises(ClientError) as refused:
        front.Table(deployment.table_name).put_item(Item={"pk": "endpoint", "sk": "bad", "m": {"": 1}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_the_engine_listens_on_the_loopback_address_only(emulated_aws: Emulator) -> None:
    port = int(emulated_aws.dynamodb_endpoint.rsplit(":", 1)[1])
    outward = _an_address_other_than_loopback()
    if outward is None:
        pytest.skip("this machine has no address other than the loopback")

    with socket.socket() as probe:
        probe.settimeout(2)
        refused = probe.connect_ex((outward, port))

    assert refused != 0


def _an_address_other_than_loopback() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent, only a route is chosen
        except OSError:
            return None
        address = str(udp.getsockname()[0])
    return None if address.startswith("127.") else address


def test_the_engine_never_outlives_a_parent_that_went_away_while_it_started() -> None:
    # Given a parent that starts the engine and is gone before the engine reports its port
    parent = subprocess.run(  # noqa: S603 - this interpreter, the project's own module
        [
            sys.executable,
            "-c",
            "import subprocess, sys; engine = subprocess.Popen([sys.executable, '-m', 'local.dynamodb', '0'], "
            "stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True); "
            "print(engine.pid)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    engine = int(parent.stdout.strip())

    # Then the engine ends on its own once it finds nobody to report to
    deadline = time.monotonic() + 60
    while _running(engine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(engine)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
