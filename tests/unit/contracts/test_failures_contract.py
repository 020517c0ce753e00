"""The failure store's contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.failures import FailureStoreContract, TaskStoreContract
from tests.fakes.failures import FakeFailureStore, FakeTaskStore


class TestFakeFailureStoreContract(FailureStoreContract):
    implementation = FakeFailureStore

    @pytest.fixture
    def failures(self) -> FakeFailureStore:
        return FakeFailureStore()


class TestFakeTaskStoreContract(TaskStoreContract):
    implementation = FakeTaskStore

    @pytest.fixture
    def tasks(self) -> FakeTaskStore:
        return FakeTaskStore()
