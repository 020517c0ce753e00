"""Fixtures of the onboarding unit tests: the store's fake, a clock the test moves, and the services over them."""

from __future__ import annotations

import pytest

from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.progress import ProgressService
from tests.fakes.onboarding import FakeOnboardingStore
from tests.unit.onboarding.users import Clock, welcome_services


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> FakeOnboardingStore:
    return FakeOnboardingStore()


@pytest.fixture
def services(store: FakeOnboardingStore, clock: Clock) -> tuple[ProgressService, FlowAdmin]:
    return welcome_services(store, clock)
