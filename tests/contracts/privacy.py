"""The contract of ``ConsentStorePort``: a user's consent kept with optimistic concurrency and its history newest
first; a choice about analytics marks the user's onboarding progress in the same write (or leaves an absent one
absent); an enrolment made on a consent read before a change does not apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.store import ProgressConflictError
from firstmile.privacy.consent import ConsentChange, ConsentState, apply
from firstmile.privacy.ports import ConsentStorePort
from tests.contracts.onboarding import TENANT, enrolment

NOW = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
USER = "u-alice"


def change(**choices: bool) -> ConsentChange:
    return ConsentChange.model_validate({"purposes": choices, "policy_version": "2026-11", "source": "settings"})


class ConsentStoreContract:
    """Subclasses provide ``consents`` and ``onboarding``, the store of the progress ``consents`` marks."""

    implementation: ClassVar[type]

    def test_choices_are_kept_with_their_history_and_a_stale_write_changes_nothing(
        self, consents: ConsentStorePort
    ) -> None:
        # Given no consent recorded
        assert consents.get(TENANT, USER) == ConsentState()

        # When two changes are written one after the other, then one made on the first state again
        first, records = apply(ConsentState(), change(analytics=True, marketing=False), NOW)
        assert consents.write(TENANT, USER, first, records)
        second, more = apply(first, change(analytics=False), NOW + timedelta(seconds=1))
        assert consents.write(TENANT, USER, second, more)
        stale, _ = apply(first, change(marketing=True), NOW + timedelta(seconds=2))
        assert not consents.write(TENANT, USER, stale, [])

        # Then the second is current and the history lists every choice, newest first
        stored = consents.get(TENANT, USER)
        assert (stored.version, stored.analytics_opt_out, stored.purposes["marketing"].granted) == (2, True, False)
        history = consents.history(TENANT, USER, limit=10)
        assert [(r.name, r.granted) for r in history][0] == ("analytics", False)
        assert sorted((r.name, r.granted) for r in history) == [
            ("analytics", False),
            ("analytics", True),
            ("marketing", False),
        ]
        assert len(consents.history(TENANT, USER, limit=1)) == 1
        assert consents.get(TENANT, "u-bob").version == 0

    def test_a_choice_about_analytics_marks_the_users_progress_and_moves_its_version(
        self, consents: ConsentStorePort, onboarding: OnboardingStorePort
    ) -> None:
        # Given an enrolled user
        onboarding.write_transition(enrolment(USER))

        # When they withdraw analytics
        state, records = apply(ConsentState(), change(analytics=False), NOW)
        assert consents.write(TENANT, USER, state, records, analytics_opt_out=True)

        # Then their progress carries the marker, at the next version
        progress = onboarding.get_progress(TENANT, USER)
        assert progress is not None and (progress.analytics_opt_out, progress.version) == (True, 2)

    def test_a_user_not_enrolled_stays_so_and_an_enrolment_on_a_stale_consent_does_not_apply(
        self, consents: ConsentStorePort, onboarding: OnboardingStorePort
    ) -> None:
        # Given an enrolment that read the consent (nothing recorded yet)
        opted_out, check = consents.enrolment(TENANT, USER)
        assert opted_out is False

        # When the user withdraws analytics before the enrolment is written
        state, records = apply(ConsentState(), change(analytics=False), NOW)
        assert consents.write(TENANT, USER, state, records, analytics_opt_out=True)
        assert onboarding.get_progress(TENANT, USER) is None

        # Then the enrolment made on the old read is refused, and one made on a new read carries the marker
        with pytest.raises(ProgressConflictError):
            onboarding.write_transition(enrolment(USER), checks=[check] if check else ())
        opted_out, check = consents.enrolment(TENANT, USER)
        assert opted_out is True
        onboarding.write_transition(enrolment(USER), checks=[check] if check else ())
        assert onboarding.get_progress(TENANT, USER) is not None
