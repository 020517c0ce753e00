"""In-memory consent, linked to the in-memory onboarding store whose progress it marks."""

from __future__ import annotations

import threading

from firstmile.audit.models import AuditEvent
from firstmile.onboarding.ports import EnrolmentConsent
from firstmile.privacy.consent import ConsentRecord, ConsentState
from firstmile.privacy.policies import PolicyVersion
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.faults import Faults
from tests.fakes.onboarding import FakeOnboardingStore


class FakeConsentStore:
    """``ConsentStorePort`` in memory: each user's state and records; the analytics marker goes to ``onboarding``'s
    progress under the same call, and an enrolment's check is a callable that ``FakeOnboardingStore`` runs."""

    def __init__(self, onboarding: FakeOnboardingStore | None = None) -> None:
        self.faults = Faults()
        self.onboarding = onboarding or FakeOnboardingStore()
        self._states: dict[tuple[str, str], ConsentState] = {}
        self._records: dict[tuple[str, str], list[ConsentRecord]] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str, user: str) -> ConsentState:
        self.faults.enter("get")
        with self._lock:
            return self._states.get((tenant, user), ConsentState())

    def history(self, tenant: str, user: str, *, limit: int) -> list[ConsentRecord]:
        self.faults.enter("history")
        with self._lock:
            records = list(self._records.get((tenant, user), []))
        return sorted(records, key=lambda r: r.at, reverse=True)[:limit]

    def write(
        self,
        tenant: str,
        user: str,
        state: ConsentState,
        records: list[ConsentRecord],
        *,
        analytics_opt_out: bool | None = None,
    ) -> bool:
        self.faults.enter("write")
        with self._lock:
            stored = self._states.get((tenant, user), ConsentState())
            if stored.version != state.version - 1 or self.faults.conflicts("write"):
                return False
            self._states[(tenant, user)] = state
            self._records.setdefault((tenant, user), []).extend(records)
            self.onboarding.set_consent_marks(tenant, user, state.accepted, analytics_opt_out)
            return True

    def enrolment(self, tenant: str, user: str) -> EnrolmentConsent:
        self.faults.enter("enrolment")
        state = self.get(tenant, user)

        def holds() -> bool:
            return self._states.get((tenant, user), ConsentState()).version == state.version

        return EnrolmentConsent(state.analytics_opt_out, dict(state.accepted), {"holds": holds})


class FakePolicyStore(AuditedFake):
    """``PolicyStorePort`` in memory; a publication appends to ``audit`` under its lock, with the version."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self._versions: dict[str, dict[tuple[str, str], PolicyVersion]] = {}

    def publish(self, tenant: str, policy: PolicyVersion, *, event: AuditEvent) -> bool:
        self.faults.enter("publish")
        with self._lock:
            versions = self._versions.setdefault(tenant, {})
            key = (policy.type.value, policy.version)
            if key in versions or self.faults.conflicts("publish"):
                return False
            versions[key] = policy
            self.audit.record(event)
            return True

    def versions(self, tenant: str) -> list[PolicyVersion]:
        self.faults.enter("versions")
        with self._lock:
            found = list(self._versions.get(tenant, {}).values())
        return sorted(found, key=lambda p: p.published_at, reverse=True)

    def current_versions(self, tenant: str) -> dict[str, str]:
        self.faults.enter("current_versions")
        current: dict[str, str] = {}
        for policy in self.versions(tenant):
            current.setdefault(policy.type.value, policy.version)
        return current
