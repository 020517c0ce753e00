"""In-memory consent, linked to the in-memory onboarding store whose progress it marks."""

from __future__ import annotations

import threading
from typing import Any

from firstmile.privacy.consent import ConsentRecord, ConsentState
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
            if analytics_opt_out is not None:
                self.onboarding.set_analytics_opt_out(tenant, user, analytics_opt_out)
            return True

    def enrolment(self, tenant: str, user: str) -> tuple[bool, dict[str, Any] | None]:
        self.faults.enter("enrolment")
        state = self.get(tenant, user)

        def holds() -> bool:
            return self._states.get((tenant, user), ConsentState()).version == state.version

        return state.analytics_opt_out, {"holds": holds}
