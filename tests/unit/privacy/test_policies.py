"""Policy versions over the in-memory stores: admins publish them, the current one of each type is the newest, and
a user's status says ``needs_reconsent`` until they accept the current versions through their consent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from firstmile import errors
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.versions import PublishedVersions
from firstmile.privacy.consent import ConsentChange
from firstmile.privacy.consents import Consents
from firstmile.privacy.current import CURRENT_CACHE_SECONDS, CurrentPolicyCache
from firstmile.privacy.policies import PolicyPublish, needs_reconsent
from firstmile.privacy.policy_versions import PolicyVersions
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import FakeConsentStore, FakePolicyStore
from tests.unit.onboarding.users import TENANT, USER, Clock, welcome_services

ADMIN = "admin:u-admin"


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Advancing(Clock):
    """A clock one second later at every reading: publications come one after the other."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def audit() -> FakeAuditLog:
    return FakeAuditLog()


@pytest.fixture
def policies(audit: FakeAuditLog, ticks: Ticks) -> PolicyVersions:
    store = FakePolicyStore(audit=audit)
    return PolicyVersions(store, cache=CurrentPolicyCache(store, monotonic=ticks), clock=Advancing())


@pytest.fixture
def onboarding() -> FakeOnboardingStore:
    return FakeOnboardingStore()


@pytest.fixture
def consents(onboarding: FakeOnboardingStore) -> tuple[Consents, ProgressService]:
    clock = Clock()
    store = FakeConsentStore(onboarding)
    welcome_services(onboarding, clock)
    return Consents(store, clock=clock), ProgressService(
        onboarding, PublishedVersions(onboarding), clock=clock, consent=store
    )


def publish(policies: PolicyVersions, kind: str, version: str) -> None:
    policies.publish(
        TENANT,
        PolicyPublish.model_validate({"type": kind, "version": version, "url": f"https://acme.example/{version}"}),
        ADMIN,
    )


def test_the_newest_version_of_each_type_is_current_and_a_version_is_published_once(
    policies: PolicyVersions, audit: FakeAuditLog
) -> None:
    publish(policies, "privacy_policy", "2026-01")
    publish(policies, "terms", "t-1")
    publish(policies, "privacy_policy", "2026-12")
    with pytest.raises(errors.DomainError) as again:
        publish(policies, "terms", "t-1")

    assert again.value.code == errors.RES_POLICY_VERSION_EXISTS
    answer = policies.policies(TENANT)
    assert {k.value: v.version for k, v in answer.current.items()} == {"privacy_policy": "2026-12", "terms": "t-1"}
    assert [p.version for p in answer.history] == ["2026-12", "t-1", "2026-01"]
    assert answer.current["privacy_policy"].published_by == ADMIN
    assert [e.action for e in audit.list_entries(TENANT).items] == ["compliance.policy.published"] * 3


def test_the_current_versions_are_read_again_after_the_cache_interval_or_a_publication(
    policies: PolicyVersions, ticks: Ticks
) -> None:
    assert policies.current(TENANT) == {}
    publish(policies, "privacy_policy", "2026-01")  # a publication in this container is seen at once
    assert policies.current(TENANT) == {"privacy_policy": "2026-01"}
    other = PolicyVersions(policies._store, clock=Advancing())  # another container publishes
    other.publish(TENANT, PolicyPublish(type="terms", version="t-1", url="https://acme.example/t"), ADMIN)  # type: ignore[arg-type]
    assert policies.current(TENANT) == {"privacy_policy": "2026-01"}
    ticks.now += CURRENT_CACHE_SECONDS
    assert policies.current(TENANT) == {"privacy_policy": "2026-01", "terms": "t-1"}


def test_a_user_must_reconsent_until_they_accept_the_current_versions(
    policies: PolicyVersions, consents: tuple[Consents, ProgressService], onboarding: FakeOnboardingStore
) -> None:
    consent, users = consents
    users = ProgressService(
        onboarding,
        PublishedVersions(onboarding),
        consent=consent._store,
        policies=policies,  # type: ignore[arg-type]
    )
    # Given a user who accepted the privacy policy 2026-01 before enrolling, and no policy published yet
    consent.change(TENANT, USER, ConsentChange(purposes={"analytics": True}, policy_version="2026-01"))  # type: ignore[dict-item]
    status, _ = users.status(TENANT, USER)
    assert status.needs_reconsent is False

    # When 2026-01 is published, then 2026-12
    publish(policies, "privacy_policy", "2026-01")
    assert users.status(TENANT, USER)[0].needs_reconsent is False  # accepted at enrolment
    publish(policies, "privacy_policy", "2026-12")
    assert users.status(TENANT, USER)[0].needs_reconsent is True

    # Then accepting 2026-12 (any choice made under it) clears it, until terms are published
    consent.change(TENANT, USER, ConsentChange(purposes={"marketing": False}, policy_version="2026-12"))  # type: ignore[dict-item]
    assert users.status(TENANT, USER)[0].needs_reconsent is False
    publish(policies, "terms", "t-1")
    assert users.status(TENANT, USER)[0].needs_reconsent is True


def test_needs_reconsent_compares_every_current_type() -> None:
    assert needs_reconsent({}, {}) is False
    assert needs_reconsent({"terms": "t-1"}, {}) is True
    assert needs_reconsent({"terms": "t-1"}, {"terms": "t-1", "privacy_policy": "old"}) is False
