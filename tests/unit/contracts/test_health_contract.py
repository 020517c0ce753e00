"""The probe results' contract, on the in-memory fake."""

from __future__ import annotations

import pytest

from tests.contracts.health import ProbeResultsContract
from tests.fakes.health import FakeProbeResultStore


class TestFakeProbeResultStoreContract(ProbeResultsContract):
    implementation = FakeProbeResultStore

    @pytest.fixture
    def probe_results(self) -> FakeProbeResultStore:
        return FakeProbeResultStore()
