"""Idempotency records against the emulator: the contract on the table engine, the items they are kept as, and
what a refused write costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from firstmile.http.idempotency_store import IdempotencyRecordStore
from firstmile.http.ports import KeyHeld
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway
from tests.contracts.idempotency import KEY, TENANT, IdempotencyRecordStorageContract, completed, in_progress
from tests.factories import NOW
from tests.integration.conftest import Deployment, DynamoCalls


class TestIdempotencyRecordStoreContract(IdempotencyRecordStorageContract):
    """The idempotency records' contract, on the table engine (over the low-level client, as the functions use it)."""

    implementation = IdempotencyRecordStore

    @pytest.fixture
    def records(self, deployment: Deployment) -> IdempotencyRecordStore:
        return IdempotencyRecordStore(TableGateway.over_client(aws.dynamodb(), deployment.table_name))


@pytest.fixture
def table(deployment: Deployment) -> Any:
    return deployment.table


def test_a_record_is_one_item_with_powertools_attributes(table: Any) -> None:
    # Given a request that started and completed
    records = IdempotencyRecordStore(table)
    first = in_progress()
    records.put_unless_live(first, now=NOW)
    records.update(completed(first, validation="body-hash-1"))

    # Then its item has the attributes Powertools' own DynamoDB layer reads, under the tenant's partition, and its
    # kind (every item names one: the privacy registry declares it)
    item = table.get_item(Key={"pk": TENANT, "sk": KEY}, ConsistentRead=True)["Item"]
    assert item == {
        "pk": TENANT,
        "sk": KEY,
        "kind": "idempotency_record",
        "status": "COMPLETED",
        "expires_at": Decimal(first.expires_at + 60),
        "in_progress_expiration": Decimal(int(NOW * 1000) + 30_000),
        "data": '{"status":201}',
        "validation": "body-hash-1",
    }


def test_a_held_key_answers_with_the_stored_record_in_one_request(table: Any, calls: DynamoCalls) -> None:
    # Given a request in progress
    records = IdempotencyRecordStore(table)
    records.put_unless_live(in_progress(), now=NOW)
    calls.names.clear()

    # When its key is written again
    held = records.put_unless_live(in_progress(validation="body-hash-2"), now=NOW + 1)

    # Then the refusal carries the stored record, without a second read
    assert held == KeyHeld(stored=in_progress())
    assert calls.names == ["PutItem"]
