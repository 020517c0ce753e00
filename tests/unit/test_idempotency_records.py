"""Idempotent requests over the in-memory idempotency records: what a replay, a reused key, a request still in
progress and a failed request do, without a table."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from firstmile.http.idempotency import IdempotentRequest, IdempotentRequests
from firstmile.http.problems import Problem
from tests.fakes.idempotency import FakeIdempotencyRecordStore

PARTITION = "TENANT#t-acme#IDEMPOTENCY"

Run = Callable[..., dict[str, Any]]


def guarded(storage: FakeIdempotencyRecordStore, run: Callable[[dict[str, str]], dict[str, Any]]) -> Run:
    """``run`` made idempotent as ``firstmile.http.idempotency`` does it, its records kept in ``storage``; the
    guarded function answers what ``run`` answered (or the kept answer of a replay)."""
    requests = IdempotentRequests(storage, ttl_seconds=3600)

    def guarded_run(request: dict[str, str]) -> dict[str, Any]:
        asked = IdempotentRequest(PARTITION, request["scope"], request["key"], request["body"])
        answer, _ = requests.answer(asked, lambda: run(request), remaining_millis=10_000)
        return answer

    return guarded_run


def request(key: str = "k-1", body: str = "hash-of-book") -> dict[str, str]:
    return {"scope": "u-1 POST /v1/orders", "key": key, "body": body}


def test_a_replay_answers_the_first_result_without_running_again() -> None:
    storage = FakeIdempotencyRecordStore()
    runs: list[str] = []

    def create(request: dict[str, str]) -> dict[str, Any]:
        runs.append(request["key"])
        return {"status": 201, "n": len(runs)}

    create_once = guarded(storage, create)

    assert create_once(request=request()) == {"status": 201, "n": 1}
    assert create_once(request=request()) == {"status": 201, "n": 1}
    assert runs == ["k-1"]
    # ...from one completed record in the partition, holding the response and the body's hash
    (record,) = storage.records.values()
    assert (record.partition, record.status) == (PARTITION, "COMPLETED")
    assert record.data is not None and json.loads(record.data) == {"status": 201, "n": 1}
    assert record.validation is not None


def test_the_same_key_with_another_body_is_refused() -> None:
    storage = FakeIdempotencyRecordStore()
    create_once = guarded(storage, lambda request: {"status": 201})
    create_once(request=request(body="hash-of-book"))

    with pytest.raises(Problem, match="another body"):
        create_once(request=request(body="hash-of-lamp"))


def test_a_request_still_in_progress_is_refused_and_its_record_stays() -> None:
    storage = FakeIdempotencyRecordStore()
    inner: list[BaseException] = []

    def create(request: dict[str, str]) -> dict[str, Any]:
        # The same request arrives again while this one runs
        try:
            create_once(request=request)
        except Problem as refused:
            inner.append(refused)
        (record,) = storage.records.values()
        assert record.status == "INPROGRESS"
        assert record.in_progress_expires_at is not None
        return {"status": 201}

    create_once = guarded(storage, create)

    assert create_once(request=request()) == {"status": 201}
    assert len(inner) == 1


def test_a_failed_request_leaves_no_record_so_it_may_be_retried() -> None:
    storage = FakeIdempotencyRecordStore()
    attempts: list[int] = []

    def create(request: dict[str, str]) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the first attempt fails")
        return {"status": 201}

    create_once = guarded(storage, create)
    with pytest.raises(RuntimeError):
        create_once(request=request())
    assert storage.records == {}

    assert create_once(request=request()) == {"status": 201}
    assert len(attempts) == 2


def test_records_are_keyed_and_hashed_as_powertools_keyed_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # Records written before Firstmile kept its own idempotency (by Powertools' utility) must still be found
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    class Keys(BasePersistenceLayer):
        _get_record = _put_record = _update_record = _delete_record = None  # type: ignore[assignment]

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "onboarding_step")
    powertools = Keys()  # type: ignore[abstract]
    config = IdempotencyConfig(
        event_key_jmespath="[scope, key]", payload_validation_jmespath="body", hash_function="sha256"
    )
    powertools.configure(config, function_name="idempotent.<locals>.run")
    storage = FakeIdempotencyRecordStore()
    guarded(storage, lambda request: {"status": 201})(request=request())

    (record,) = storage.records.values()
    assert record.key == powertools._get_hashed_idempotency_key(request())
    assert record.validation == powertools._get_hashed_payload(request())


def test_a_request_whose_run_outlived_its_time_is_taken_over_by_the_next_delivery() -> None:
    # Given a request whose function timed out while running: its record stays in progress, its time long gone
    storage = FakeIdempotencyRecordStore()
    now = 1_000_000.0
    requests = IdempotentRequests(storage, ttl_seconds=3600, clock=lambda: now)
    asked = IdempotentRequest(PARTITION, "u-1 POST /v1/orders", "k-1", "hash-of-book")
    requests.answer(asked, lambda: {"status": 201, "n": 1}, remaining_millis=10_000)
    ((at, record),) = storage.records.items()
    storage.records[at] = replace(record, status="INPROGRESS", in_progress_expires_at=int(now * 1000) - 1)

    # When the request is delivered again
    answer, replayed = requests.answer(asked, lambda: {"status": 201, "n": 2}, remaining_millis=10_000)

    # Then it runs again and its answer is kept
    assert (answer, replayed) == ({"status": 201, "n": 2}, False)
    assert storage.records[at].status == "COMPLETED"
