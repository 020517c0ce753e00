"""What DynamoDB and the network can do to a ``TransactWriteItems``, played in front of one table's client.

Each helper hooks the ``before-call`` event of one DynamoDB client (given itself, or as the client behind a boto3 Table
resource: whichever the code under test sends through), so the code sends its real requests and meets the fault
where botocore would hand it the answer:

- ``TransactionConflicts``: the next transactions are cancelled as DynamoDB cancels one that meets another
  transaction on one of its items (nothing applied; the caller may send it again);
- ``refused_transactions``: every transaction (or every one that writes a given partition, such as the audit log's)
  is answered with an error and never reaches the table;
- ``lost_answers``: the next transaction is applied for real, then its answer is lost. Either the caller gets no
  answer at all (a read timeout after the SDK's own retries), or the request is sent again as a new transaction and
  the caller gets that answer: what an engine that ignores the client request token does, or DynamoDB itself once
  the token's 10 minutes are over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
from botocore.exceptions import ClientError, ReadTimeoutError

_EVENT = "before-call.dynamodb.TransactWriteItems"


@dataclass
class Sent:
    """The transactions that reached the hook, as DynamoDB JSON requests."""

    requests: list[dict[str, Any]]

    @property
    def count(self) -> int:
        return len(self.requests)


class TransactionConflicts:
    """Answers the next ``times`` transactions as DynamoDB does when another transaction holds one of their items."""

    def __init__(self, table: Any, times: int) -> None:
        self.left = times
        self.sent = 0
        self._events = _events(table)

    def __enter__(self) -> TransactionConflicts:
        self._events.register("before-call.dynamodb.TransactWriteItems", self._answer, unique_id="conflicts")
        return self

    def __exit__(self, *_: object) -> None:
        self._events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="conflicts")

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        self.sent += 1
        if self.left == 0:
            return None  # sent to the emulator for real
        self.left -= 1
        items = len(json.loads(params["body"])["TransactItems"])
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (items - 1)
        return SimpleNamespace(status_code=400), {"Error": error, "CancellationReasons": reasons}


@contextmanager
def refused_transactions(
    table: Any, *, writing: str = "", code: str = "InternalServerError", status: int = 500
) -> Iterator[Sent]:
    """Answer every transaction sent through ``table``'s client that writes an item whose ``pk`` contains
    ``writing`` (every transaction, by default) with ``code``, without applying it. Other requests pass."""
    sent = Sent([])

    def refuse(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        request = json.loads(params["body"])
        if not any(writing in _partition(item) for item in request["TransactItems"]):
            return None
        sent.requests.append(request)
        return SimpleNamespace(status_code=status), {"Error": {"Code": code, "Message": "refused by the test"}}

    with _hooked(table, refuse):
        yield sent


@contextmanager
def lost_answers(table: Any, endpoint: str, *, resent: bool) -> Iterator[Sent]:
    """Apply the next transaction sent through ``table``'s client, then lose its answer: without ``resent`` the
    caller gets a read timeout; with it, the same items are sent again under a new client request token and the
    caller gets what that second delivery answered. Later transactions pass untouched."""
    sent = Sent([])
    raw = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")

    def lose(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        request = json.loads(params["body"])
        sent.requests.append(request)
        if len(sent.requests) > 1:
            return None  # on to the table, as usual
        raw.transact_write_items(**request)
        if not resent:
            raise ReadTimeoutError(endpoint_url=endpoint)
        try:
            raw.transact_write_items(TransactItems=request["TransactItems"])
        except ClientError as refused:
            return SimpleNamespace(status_code=400), dict(refused.response)
        return SimpleNamespace(status_code=200), {}

    with _hooked(table, lose):
        yield sent


def _partition(item: dict[str, Any]) -> str:
    ((_, request),) = item.items()
    key = request.get("Key") or request["Item"]
    return str(key["pk"]["S"])


def _events(table: Any) -> Any:
    """The event hooks of ``table``'s client (a Table resource's, or the client's own)."""
    client = getattr(table.meta, "client", table)
    return client.meta.events


@contextmanager
def _hooked(table: Any, handler: Any) -> Iterator[None]:
    events = _events(table)
    events.register_first(_EVENT, handler, unique_id="transaction-faults")
    try:
        yield
    finally:
        events.unregister(_EVENT, unique_id="transaction-faults")
