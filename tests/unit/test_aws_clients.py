"""AWS clients: made once per container, even when the first uses come from several threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from firstmile.platform import aws
from tests.factories import run_together


@pytest.fixture(autouse=True)
def _fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.reset_clients()
    yield
    aws.reset_clients()


def first_uses_at_once(get: Callable[[], Any], threads: int = 12) -> list[Any]:
    """What ``threads`` threads get when they all ask for a client at the same moment."""
    got: list[Any] = []
    failures: list[BaseException] = []

    def ask(ready: Callable[[], None]) -> None:
        ready()
        try:
            got.append(get())
        except BaseException as exc:  # noqa: BLE001 - a failure is what this test looks for
            failures.append(exc)

    run_together(ask, threads)
    assert failures == []
    return got


@pytest.mark.parametrize(
    "get", [aws.dynamodb, aws.sqs, aws.s3, lambda: aws.table("t")], ids=["dynamodb", "sqs", "s3", "table"]
)
def test_concurrent_first_uses_share_one_client(get: Callable[[], Any]) -> None:
    clients = first_uses_at_once(get)

    assert len({id(c) for c in clients}) == 1


def test_different_clients_made_at_once_share_one_session() -> None:
    makers = [aws.dynamodb, aws.sqs, aws.s3] * 4
    chosen = iter(makers)
    lock = threading.Lock()

    def next_client() -> Any:
        with lock:
            make = next(chosen)
        return make()

    first_uses_at_once(next_client, threads=len(makers))

    assert aws._session.cache_info().currsize == 1
    assert aws._session.cache_info().misses == 1


def test_reset_makes_new_clients() -> None:
    before = aws.dynamodb()
    aws.reset_clients()

    assert aws.dynamodb() is not before
