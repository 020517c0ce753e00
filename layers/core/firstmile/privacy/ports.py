"""What privacy needs of storage, as protocols: the table's stores implement them, and so do the unit tests'
in-memory fakes; both pass the same contract suites (tests/contracts/privacy.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from firstmile.audit.models import AuditEvent
    from firstmile.onboarding.ports import EnrolmentConsent
    from firstmile.privacy.consent import ConsentRecord, ConsentState
    from firstmile.privacy.policies import PolicyVersion


class ConsentStorePort(Protocol):
    """Users' consent (``firstmile.privacy.consent_store.ConsentStore``)."""

    def get(self, tenant: str, user: str) -> ConsentState:
        """The user's current choices; version 0 when none is recorded."""
        ...

    def history(self, tenant: str, user: str, *, limit: int) -> list[ConsentRecord]:
        """The user's newest ``limit`` choices, newest first."""
        ...

    def write(
        self,
        tenant: str,
        user: str,
        state: ConsentState,
        records: list[ConsentRecord],
        *,
        analytics_opt_out: bool | None = None,
    ) -> bool:
        """Store ``state`` if the stored one is at ``state.version - 1``, with ``records``, and copy its accepted
        policy versions (and the analytics marker when given) onto the user's progress if they have one; ``False``,
        writing nothing, when another change came first."""
        ...

    def enrolment(self, tenant: str, user: str) -> EnrolmentConsent:
        """Whether the user is out of analytics, the versions they accepted, and a check of the consent read."""
        ...


class PolicyStorePort(Protocol):
    """A tenant's published policy versions (``firstmile.privacy.policy_store.PolicyStore``)."""

    def publish(self, tenant: str, policy: PolicyVersion, *, event: AuditEvent) -> bool:
        """Store ``policy`` with ``event``'s entry, unless its type has that version already (``False``)."""
        ...

    def versions(self, tenant: str) -> list[PolicyVersion]:
        """Every published version, newest first."""
        ...

    def current_versions(self, tenant: str) -> dict[str, str]:
        """Type -> the version published last."""
        ...
