"""What privacy needs of storage, as protocols: the table's stores implement them, and so do the unit tests'
in-memory fakes; both pass the same contract suites (tests/contracts/privacy.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from firstmile.privacy.consent import ConsentRecord, ConsentState


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
        """Store ``state`` if the stored one is at ``state.version - 1``, with ``records``, and the analytics marker
        on the user's progress when given; ``False``, writing nothing, when another change came first."""
        ...

    def enrolment(self, tenant: str, user: str) -> tuple[bool, dict[str, Any] | None]:
        """Whether the user is out of analytics, and a check that their consent is still as read."""
        ...
