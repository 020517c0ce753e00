"""Restore drills against the emulator: the store's contract on the table engine."""

from __future__ import annotations

import pytest

from firstmile.backups.store import DrillStoreOnTable
from firstmile.platform import aws
from firstmile.platform.gateway import TableGateway
from tests.contracts.backups import DrillStoreContract
from tests.integration.conftest import Deployment


class TestDrillStoreContract(DrillStoreContract):
    implementation = DrillStoreOnTable

    @pytest.fixture
    def drills(self, deployment: Deployment) -> DrillStoreOnTable:
        return DrillStoreOnTable(TableGateway.over_client(aws.dynamodb(), deployment.table_name))
