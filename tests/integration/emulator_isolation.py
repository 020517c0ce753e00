"""Give the in-process moto emulator DynamoDB's isolation, for tests that race requests against each other.

moto evaluates a write's condition and then applies the write without a lock, and a failed transaction restores
a snapshot of the whole table (undoing whatever a concurrent request wrote meanwhile). DynamoDB serialises
conflicting writes to an item. Concurrency tests call ``serialize_dynamodb`` so the emulator behaves like DynamoDB
in that respect; the code under test is unchanged and still sends real requests over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "transact_write_items")


def serialize_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the emulator's DynamoDB item operations one at a time, for the rest of the test."""
    lock = threading.RLock()

    def locked(operation: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return operation(self, *args, **kwargs)

        return run

    for name in _OPERATIONS:
        monkeypatch.setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))
