"""Request tallies against the emulator: the contract on the table engine, and the items they are kept as."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway
from firstmile.sla.store import TallyStore, shard_of
from firstmile.sla.tallies import tally_samples
from tests.contracts.sla import HOUR, STATUS, RequestTalliesContract, sample
from tests.integration.conftest import Deployment


class TestTallyStoreContract(RequestTalliesContract):
    """The request tallies' contract, on the table engine."""

    implementation = TallyStore

    @pytest.fixture
    def tallies(self, deployment: Deployment) -> TallyStore:
        return TallyStore(TableGateway.over_client(aws.dynamodb(), deployment.table_name))


def test_a_minute_is_one_item_of_flat_counts_under_its_hour(deployment: Deployment) -> None:
    at = HOUR + timedelta(minutes=5, seconds=10)
    TallyStore(aws.table(deployment.table_name)).add(
        tally_samples([sample(STATUS, at, 404, 2.5, "RES_NOT_FOUND")]), token="item-shape"
    )

    item = deployment.table.get_item(
        Key={"pk": f"SLA#M#{HOUR:%Y-%m-%dT%H}#{shard_of(STATUS)}", "sk": f"05#{STATUS}"}, ConsistentRead=True
    )["Item"]

    assert item["kind"] == "sla_tally"
    assert (item["route"], item["audience"], item["level"]) == (STATUS, "user", "minute")
    assert (item["n"], item["c:4xx"], item["e:RES_NOT_FOUND"]) == (1, 1, 1)
    assert int(item["expires_at"]) == int((at.replace(second=0) + timedelta(days=3)).timestamp())
