"""What privacy needs of storage, as protocols: the table's stores implement them, and so do the unit tests'
in-memory fakes; both pass the same contract suites (tests/contracts/privacy.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date, datetime
    from typing import Any

    from firstmile.audit.models import AuditEvent
    from firstmile.onboarding.ports import EnrolmentConsent
    from firstmile.privacy.consent import ConsentRecord, ConsentState
    from firstmile.privacy.policies import PolicyVersion
    from firstmile.privacy.requests import PrivacyRequest, PrivacySettings, RequestState


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
        restricted: bool | None = None,
    ) -> bool:
        """Store ``state`` if the stored one is at ``state.version - 1``, with ``records``, and copy its accepted
        policy versions (and the analytics and restriction markers when given) onto the user's progress if they have
        one; ``False``, writing nothing, when another change came first."""
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


class RequestStorePort(Protocol):
    """Data subject requests, their deadlines, the tenants' privacy settings and the erased users' tombstones
    (``firstmile.privacy.request_store.RequestStore``)."""

    def save(self, request: PrivacyRequest, *, event: AuditEvent) -> bool:
        """Store ``request`` (version 1: new; else on condition the stored one is at ``version - 1``) with its
        deadline entry and ``event``'s audit entry; ``False``, writing nothing, when the condition fails."""
        ...

    def get(self, tenant: str, request_id: str) -> PrivacyRequest | None: ...

    def page(
        self, tenant: str, *, state: RequestState | None, limit: int, cursor: str | None
    ) -> tuple[list[PrivacyRequest], str | None]:
        """A page of the tenant's requests, newest first: all of them, or those in ``state``."""
        ...

    def open_entries(self, tenant: str) -> list[dict[str, str]]:
        """The tenant's open requests (``request_id``, ``state``, ``deadline``), soonest deadline first."""
        ...

    def many(self, tenant: str, request_ids: Iterable[str]) -> list[PrivacyRequest]: ...

    def open_before(self, moment: datetime) -> list[dict[str, str]]:
        """The deployment's open requests with a deadline before ``moment``, soonest first."""
        ...

    def settings(self, tenant: str) -> PrivacySettings: ...

    def set_settings(self, tenant: str, settings: PrivacySettings, *, event: AuditEvent) -> None: ...

    def put_tombstone(self, tenant: str, user: str, request_id: str, at: datetime) -> None: ...

    def tombstoned(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the (tenant, user) pairs were erased."""
        ...

    def tombstones(self, tenant: str) -> list[str]:
        """The erased users of a tenant."""
        ...

    def all_tombstones(self) -> list[tuple[str, str, str]]:
        """Every erased (tenant, user, when: ``yyyy-mm-ddThh:mm:ss.ffffffZ``) of the deployment."""
        ...


class UserPartitionPort(Protocol):
    """The items under one user's partition (``firstmile.privacy.user_data.UserPartition``)."""

    def items(self, tenant: str, user: str) -> list[dict[str, Any]]:
        """Every item, as plain values with its ``kind``, without the table's keys."""
        ...

    def kinds(self, tenant: str, user: str) -> dict[str, int]:
        """How many items of each kind."""
        ...

    def delete(self, tenant: str, user: str) -> int:
        """Delete every item; how many."""
        ...


class RetentionStorePort(Protocol):
    """The retention index (``firstmile.privacy.retention.RetentionStore``)."""

    def due(self, day: date) -> list[tuple[dict[str, str], str]]:
        """The entries due on ``day``: each item's key and kind."""
        ...

    def delete(self, day: date, entries: list[tuple[dict[str, str], str]]) -> None:
        """Delete each entry's item and the entry itself."""
        ...
