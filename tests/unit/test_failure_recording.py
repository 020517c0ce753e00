"""Failures recorded where they happen (decision 0090): the record of one attempt, and a scheduled job's failure
recorded before it goes on to the scheduler's retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from firstmile import entrypoints
from firstmile.composition import container, reset
from firstmile.failures.recording import failure_of, record_failure
from firstmile.observability import REDACTED
from tests.factories import FakeLambdaContext
from tests.fakes.failures import FakeFailureStore

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def failures() -> Iterator[FakeFailureStore]:
    reset()
    store = FakeFailureStore()
    container().failure_store = store  # type: ignore[misc]
    yield store
    reset()


def test_an_attempt_is_recorded_with_its_secrets_redacted_and_its_long_texts_cut_to_their_end() -> None:
    try:
        raise ValueError("token=abc.def.ghi " + "x" * 5000 + " the end")
    except ValueError as error:
        failed = failure_of("w", "queue:q", "m-1", error, '{"tenant": "t-1", "password": "hunter2"}', 3, T0)

    assert (failed.exception_type, failed.attempt, failed.tenant) == ("ValueError", 3, "t-1")
    assert failed.payload == {"tenant": "t-1", "password": REDACTED}
    assert failed.message.endswith(" the end") and len(failed.message) == 4000
    assert failed.traceback.endswith("the end\n") and "Traceback" not in failed.traceback[:10]


def test_a_failure_that_cannot_be_recorded_never_hides_the_failure() -> None:
    def broken(_: Any) -> None:
        raise RuntimeError("table down")

    record_failure("queue:q", "m-1", KeyError("k"), "{}", 1, store=broken)  # returns: nothing raised


def test_a_failing_job_records_its_run_and_still_fails(
    failures: FakeFailureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "onboarding_idle_job")

    def run(_: dict[str, Any]) -> dict[str, Any]:
        raise TimeoutError("the table did not answer")

    handler = entrypoints.job(run)
    event = {"id": "run-7", "detail": {"attempt-number": 2}, "source": "aws.scheduler"}

    with pytest.raises(TimeoutError):
        handler(event, FakeLambdaContext())

    record = failures.get("schedule:onboarding_idle_job", "run-7")
    assert record is not None
    assert (record.task, record.exception_type, record.attempts) == ("onboarding_idle_job", "TimeoutError", 2)
