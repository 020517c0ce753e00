"""The failure store's contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.failures import FailureStoreContract
from tests.fakes.failures import FakeFailureStore


class TestFakeFailureStoreContract(FailureStoreContract):
    implementation = FakeFailureStore

    @pytest.fixture
    def failures(self) -> FakeFailureStore:
        return FakeFailureStore()
