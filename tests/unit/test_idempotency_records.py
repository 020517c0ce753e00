"""Powertools idempotency over the in-memory idempotency records: what a replay, a reused key, a request still in
progress and a failed request do, without a table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from firstmile.http.idempotency_records import IdempotencyRecords
from tests.factories import FakeLambdaContext
from tests.fakes.idempotency import FakeIdempotencyRecordStore

PARTITION = "TENANT#t-acme#IDEMPOTENCY"

Run = Callable[..., dict[str, Any]]


def guarded(storage: FakeIdempotencyRecordStore, run: Callable[[dict[str, str]], dict[str, Any]]) -> Run:
    """``run`` made idempotent as ``firstmile.http.idempotency`` does it, its records kept in ``storage``."""
    config = IdempotencyConfig(
        event_key_jmespath="[scope, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        hash_function="sha256",
    )
    config.register_lambda_context(FakeLambdaContext())
    records = IdempotencyRecords(PARTITION, lambda: storage)
    return idempotent_function(data_keyword_argument="request", persistence_store=records, config=config)(run)  # type: ignore[no-any-return]


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
    assert record.data is not None and '"n": 1' in record.data
    assert record.validation is not None


def test_the_same_key_with_another_body_is_refused() -> None:
    storage = FakeIdempotencyRecordStore()
    create_once = guarded(storage, lambda request: {"status": 201})
    create_once(request=request(body="hash-of-book"))

    with pytest.raises(IdempotencyValidationError):
        create_once(request=request(body="hash-of-lamp"))


def test_a_request_still_in_progress_is_refused_and_its_record_stays() -> None:
    storage = FakeIdempotencyRecordStore()
    inner: list[BaseException] = []

    def create(request: dict[str, str]) -> dict[str, Any]:
        # The same request arrives again while this one runs
        try:
            create_once(request=request)
        except IdempotencyAlreadyInProgressError as refused:
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
