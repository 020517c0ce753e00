"""The contract of ``FailureStorePort``: one record per message, its first failure kept, its newest error and the
highest attempt shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from firstmile.failures.models import Failure
from firstmile.failures.ports import FailureStorePort

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def failure(attempt: int, at: datetime, error: str = "KeyError") -> Failure:
    return Failure(
        task="flag_exposure_worker",
        source="queue:firstmile-test-flag-exposures",
        message_id="m-1",
        exception_type=error,
        message=f"{error} at {attempt}",
        traceback="Traceback ...",
        attempt=attempt,
        at=at,
        payload={"tenant": "t-acme", "exposures": [{"flag": "f", "variant": "on"}]},
        tenant="t-acme",
    )


class FailureStoreContract:
    """Subclasses provide ``failures``."""

    implementation: ClassVar[type]

    def test_each_attempt_updates_one_record_keeping_the_first_time_and_the_highest_attempt(
        self, failures: FailureStorePort
    ) -> None:
        failures.record(failure(1, T0))
        failures.record(failure(3, T0 + timedelta(minutes=2), error="ValueError"))
        failures.record(failure(2, T0 + timedelta(minutes=3)))  # a late, lower delivery number

        record = failures.get("queue:firstmile-test-flag-exposures", "m-1")

        assert record is not None
        assert (record.attempts, record.first_failed_at, record.last_failed_at) == (3, T0, T0 + timedelta(minutes=3))
        assert (record.exception_type, record.message, record.tenant) == ("KeyError", "KeyError at 2", "t-acme")
        assert record.payload == {"tenant": "t-acme", "exposures": [{"flag": "f", "variant": "on"}]}
        assert failures.get("queue:firstmile-test-flag-exposures", "m-2") is None
