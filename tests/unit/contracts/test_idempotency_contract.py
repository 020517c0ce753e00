"""The idempotency records' contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.idempotency import IdempotencyRecordStorageContract
from tests.fakes.idempotency import FakeIdempotencyRecordStore


class TestFakeIdempotencyRecordStoreContract(IdempotencyRecordStorageContract):
    implementation = FakeIdempotencyRecordStore

    @pytest.fixture
    def records(self) -> FakeIdempotencyRecordStore:
        return FakeIdempotencyRecordStore()
