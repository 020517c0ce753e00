"""A user's consent as they manage it: read the current choices and their history, grant or withdraw (decision
0081). A withdrawal of analytics takes effect at once: the marker on the user's progress is set in the same
transaction, and every onboarding event written after it carries it, so the aggregator counts none of them."""

from __future__ import annotations

from firstmile.clock import Clock, utc_now
from firstmile.errors import VersionConflictError
from firstmile.platform.versioned import ConflictRetry
from firstmile.privacy.consent import (
    HISTORY_LIMIT,
    ConsentChange,
    ConsentState,
    ConsentView,
    Purpose,
    Right,
    apply,
    view,
)
from firstmile.privacy.ports import ConsentStorePort


class Consents:
    """The use cases of a user's own consent."""

    def __init__(self, store: ConsentStorePort, *, clock: Clock = utc_now, retry: ConflictRetry | None = None) -> None:
        self._store = store
        self._clock = clock
        self._retry = retry or ConflictRetry()

    def current(self, tenant: str, user: str) -> ConsentView:
        """The user's choices, whether they are out of analytics, and their newest choices."""
        return view(self._store.get(tenant, user), self._store.history(tenant, user, limit=HISTORY_LIMIT))

    def change(self, tenant: str, user: str, change: ConsentChange) -> ConsentView:
        """Record ``change``; a choice about analytics also sets the marker on the user's progress. A change that
        loses a race with another reads again and applies itself on top (no choice is lost)."""

        def attempt() -> ConsentState:
            state = self._store.get(tenant, user)
            updated, records = apply(state, change, self._clock())
            # Only a choice about analytics (or an objection) moves the marker: the progress keeps what enrolment or
            # privacy set.
            about_analytics = Purpose.ANALYTICS in change.purposes or Right.OBJECT in change.rights
            marker = updated.analytics_opt_out if about_analytics else None
            restricted = updated.restricted if Right.RESTRICT_PROCESSING in change.rights else None
            if not self._store.write(tenant, user, updated, records, analytics_opt_out=marker, restricted=restricted):
                raise VersionConflictError(None, None)
            return updated

        # The state just written is the current one: only the history is read again.
        return view(self._retry(attempt), self._store.history(tenant, user, limit=HISTORY_LIMIT))
