"""The table gateway against the emulator's table: over the resource's client and over the low-level client (which
converts values itself), the same writes store the same items and every read answers the same plain values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from firstmile.errors import VersionConflictError
from firstmile.platform.gateway import CONDITION_FAILED, TableGateway, partition
from tests.integration.conftest import Deployment


def gateways(deployment: Deployment) -> dict[str, TableGateway]:
    return {
        "resource": TableGateway(deployment.table),
        "client": TableGateway.over_client(deployment.client("dynamodb"), deployment.table_name),
    }


@pytest.mark.parametrize("mode", ["resource", "client"])
def test_every_operation_answers_plain_values(deployment: Deployment, mode: str) -> None:
    # Given a gateway of the chosen kind
    table = gateways(deployment)[mode]
    item: dict[str, Any] = {"pk": "G", "sk": "A", "n": Decimal("1.5"), "tags": {"x"}, "doc": {"list": [1, "two"]}}

    # When items are written, updated, read, listed, conditioned, transacted and deleted
    assert table.put_new(item) is True
    assert table.put_new(item) is False
    assert table.update_if({"pk": "G", "sk": "A"}, "ADD #n :one", names={"#n": "n"}, values={":one": 1}) == {}
    assert table.get({"pk": "G", "sk": "A"}) == {**item, "n": Decimal("2.5")}
    table.put_if_version({"pk": "G", "sk": "V"}, 0)
    with pytest.raises(VersionConflictError) as conflict:
        table.put_if_version({"pk": "G", "sk": "V", "name": "stale"}, 0)
    reasons = table.transact(
        [
            table.put_new_action({"pk": "G", "sk": "B", "n": 1}),
            table.update_action(
                {"pk": "G", "sk": "V"},
                "SET #v = :v",
                condition="#v = :old",
                names={"#v": "version"},
                values={":v": 9, ":old": 7},
                return_stored=True,
            ),
        ]
    )
    first, cursor = table.query_page(partition("G"), limit=1, cursor=None, scope="G")
    rest, end = table.query_page(partition("G"), limit=10, cursor=cursor, scope="G")
    batch = table.get_many([{"pk": "G", "sk": "V"}, {"pk": "G", "sk": "none"}, {"pk": "G", "sk": "A"}])
    table.delete_many([{"pk": "G", "sk": "A"}, {"pk": "G", "sk": "V"}])

    # Then each answer is in plain values, and the transaction that failed its condition wrote nothing
    assert conflict.value.current == {"pk": "G", "sk": "V", "version": Decimal(1)}
    assert reasons is not None and reasons[1]["Code"] == CONDITION_FAILED
    assert reasons[1]["Item"] == {"pk": "G", "sk": "V", "version": Decimal(1)}
    assert [i["sk"] for i in first + rest] == ["A", "V"] and end is None
    assert batch == [{"pk": "G", "sk": "V", "version": Decimal(1)}, {**item, "n": Decimal("2.5")}]
    assert list(table.query_all(partition("G"))) == []
