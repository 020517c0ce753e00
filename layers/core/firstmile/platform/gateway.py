"""The one way to the table: every DynamoDB request of the core package is sent here, and every SDK failure is
translated here.

Stores keep their key formats and item mapping and ask the gateway for what they need: ``get``, ``put``,
``put_new``, ``put_if``, ``put_if_version``, ``update_if``, ``delete``, ``transact`` (with ``put_action`` /
``update_action`` / ``delete_action`` to build its items), ``query`` (one page, DynamoDB's own start key),
``query_page`` (one page with an opaque cursor), ``query_all`` and ``delete_many``. What comes back:

- a failed condition is an answer (``False``, ``None``, a ``Refusal`` with the stored item, the cancellation
  reasons of a transaction), or, for a
  versioned write, ``VersionConflictError`` carrying the stored item DynamoDB returned with the refusal
  (``ReturnValuesOnConditionCheckFailure``: no second read);
- a request that meets a concurrent transaction on its item (``TransactionConflict``) is sent again after a
  full-jitter pause, a few times;
- a write DynamoDB would refuse for what it holds stays ``ItemRefusedError`` (``item_rules`` refuses it before it is
  sent);
- every other failure of the SDK or the service is ``DependencyUnavailableError`` naming the table.

Values are plain Python (numbers as ``Decimal``, as boto3 takes them). A gateway over a boto3 Table resource sends
through the resource's client, which converts them on the way out and back; a gateway over the low-level client
(``TableGateway.over_client``, which spares a cold start the resource layer) converts them itself. Items that
DynamoDB returns inside an error (a cancellation reason, a failed condition) come back typed either way and are
converted here, so stores never see the wire format.

Importing this module loads nothing of boto3 or botocore: the SDK is loaded by whoever makes the table (``aws``),
and its exception classes only once a request has failed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from firstmile.errors import DependencyUnavailableError, VersionConflictError
from firstmile.platform.cursors import MAX_LIMIT, decode_cursor, encode_cursor
from firstmile.platform.items import attribute as typed
from firstmile.platform.items import value as untyped
from firstmile.platform.table import MAIN_TABLE, TableDefinition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table

COMPONENT = "table"
VERSION = "version"
"""The attribute that carries an item's version for ``put_if_version``."""
CONDITION_FAILED = "ConditionalCheckFailed"
"""The code of a transaction item whose condition did not hold."""
TRANSACTION_CONFLICT = "TransactionConflict"
"""The code of a transaction item another transaction held at that moment."""
TRANSACT_ATTEMPTS = 4
# BatchGetItem takes at most 100 keys a request.
BATCH_GET_KEYS = 100
MAX_TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the items of one TransactWriteItems."""
_BATCH_WRITE_ITEMS = 25
_BATCH_ATTEMPTS = 8


def pause(attempt: int) -> None:
    """Wait before sending again a request that lost to a concurrent one (full jitter, capped at 200 ms)."""
    time.sleep(random.uniform(0, min(0.2, 0.01 * 2**attempt)))  # noqa: S311 - jitter, not security


# --- expressions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyCondition:
    """A Query's key condition: one partition of the table or of an index, and optionally a range of its sort key.

    Built with ``partition(...)`` and narrowed with ``begins_with``, ``between`` or ``at_least``; rendered with
    placeholders of its own (``#k0``, ``:k0``...), so it never collides with a filter's names and values."""

    partition_value: Any
    index: str | None = None
    sort_operator: str | None = None
    sort_values: tuple[Any, ...] = ()
    definition: TableDefinition = field(default=MAIN_TABLE, compare=False)

    def begins_with(self, prefix: str) -> KeyCondition:
        """Only the items whose sort key starts with ``prefix``."""
        return KeyCondition(self.partition_value, self.index, "begins_with", (prefix,), self.definition)

    def between(self, low: Any, high: Any) -> KeyCondition:
        """Only the items whose sort key lies between ``low`` and ``high``, both included."""
        return KeyCondition(self.partition_value, self.index, "between", (low, high), self.definition)

    def at_least(self, low: Any) -> KeyCondition:
        """Only the items whose sort key is ``low`` or after it."""
        return KeyCondition(self.partition_value, self.index, ">=", (low,), self.definition)

    def key_names(self) -> tuple[str, str | None]:
        """The partition and sort key attributes this condition names (the index's when it names one)."""
        if self.index is None:
            return self.definition.partition_key.name, self.definition.sort_key.name
        for index in self.definition.indexes:
            if index.name == self.index:
                return index.partition_key.name, index.sort_key.name if index.sort_key else None
        raise ValueError(f"the table has no index {self.index}")

    def render(self) -> tuple[str, dict[str, str], dict[str, Any]]:
        """The ``KeyConditionExpression`` with its attribute names and values."""
        partition_name, sort_name = self.key_names()
        names = {"#k0": partition_name}
        values: dict[str, Any] = {":k0": self.partition_value}
        expression = "#k0 = :k0"
        if self.sort_operator is not None:
            if sort_name is None:
                raise ValueError(f"the index {self.index} has no sort key")
            names["#k1"] = sort_name
            for n, value in enumerate(self.sort_values, start=1):
                values[f":k{n}"] = value
            if self.sort_operator == "begins_with":
                expression += " AND begins_with(#k1, :k1)"
            elif self.sort_operator == "between":
                expression += " AND #k1 BETWEEN :k1 AND :k2"
            else:
                expression += f" AND #k1 {self.sort_operator} :k1"
        return expression, names, values


def partition(value: Any, *, index: str | None = None) -> KeyCondition:
    """The key condition of one partition of the table (or of ``index``)."""
    return KeyCondition(value, index)


class Placeholders(TypedDict, total=False):
    """The attribute names (``#name``) and values (``:value``) a request's expressions use."""

    names: Mapping[str, str] | None
    values: Mapping[str, Any] | None


class Conditions(Placeholders, total=False):
    """A write's condition (none: the write applies whatever is stored) and its placeholders."""

    condition: str | None


class ReadOptions(Placeholders, total=False):
    """How a Query reads besides its key condition: order, consistency, a filter and a projection over its
    placeholders (the key condition's placeholders are its own)."""

    newest_first: bool
    consistent: bool
    filter: str | None
    projection: str | None


@dataclass(frozen=True)
class Refusal:
    """A conditional write that did not apply, with the item stored at its key (``None`` when there is none, or
    when the write did not ask for it)."""

    stored: dict[str, Any] | None


@dataclass(frozen=True)
class QueryPage:
    """One page of a Query: its items and DynamoDB's key to continue from (``None`` after the last page)."""

    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None


# --- the gateway -------------------------------------------------------------------------------------------------


class TableGateway:
    """Every request to one DynamoDB table, with its failures translated (see the module docstring)."""

    def __init__(
        self, table: Table, *, attempts: int = TRANSACT_ATTEMPTS, wait: Callable[[int], None] | None = None
    ) -> None:
        self._client: Any = table.meta.client
        self.name: str = table.name
        self._attempts = attempts
        self._wait = wait
        # Whether values are converted here (a low-level client) rather than by the resource's client.
        self._converts = False

    @classmethod
    def of(cls, table: Table | TableGateway) -> TableGateway:
        """The gateway of ``table``, which may already be one (so a store takes either)."""
        return table if isinstance(table, TableGateway) else cls(table)

    @classmethod
    def over_client(
        cls,
        client: DynamoDBClient,
        table_name: str,
        *,
        attempts: int = TRANSACT_ATTEMPTS,
        wait: Callable[[int], None] | None = None,
    ) -> TableGateway:
        """The gateway of the table ``table_name`` through a low-level DynamoDB client, converting values itself:
        no resource is made, which spares a cold start boto3's resource layer."""
        table: Any = SimpleNamespace(name=table_name, meta=SimpleNamespace(client=client))
        gateway = cls(table, attempts=attempts, wait=wait)
        gateway._converts = True
        return gateway

    # --- reads ---------------------------------------------------------------------------------------------

    def get(
        self,
        key: Mapping[str, Any],
        *,
        consistent: bool = True,
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """The item at ``key`` (only the attributes of ``projection`` when given), or ``None`` when there is none."""
        request: dict[str, Any] = {"TableName": self.name, "Key": dict(key), "ConsistentRead": consistent}
        if projection is not None:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        item: dict[str, Any] | None = self._call(lambda: self._send("get_item", request)).get("Item")
        return item

    def get_many(self, keys: Sequence[Mapping[str, Any]], *, consistent: bool = False) -> list[dict[str, Any]]:
        """The items at ``keys`` that exist, in the order of ``keys``: BatchGetItem, at most 100 keys a request,
        keys the service leaves unprocessed asked for again after a pause; ``DependencyUnavailableError`` when some
        stay unprocessed after every attempt."""
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_KEYS):
            pending: list[dict[str, Any]] = [dict(key) for key in keys[start : start + BATCH_GET_KEYS]]
            for attempt in range(1, self._attempts + 1):
                request = {self.name: {"Keys": pending, "ConsistentRead": consistent}}
                answer = self._call(partial(self._send, "batch_get_item", {"RequestItems": request}))
                for item in answer.get("Responses", {}).get(self.name, []):
                    found[_identity(item, pending[0])] = item
                pending = list(answer.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", []))
                if not pending:
                    break
                if attempt == self._attempts:
                    raise DependencyUnavailableError(COMPONENT, "keys of a batch read stayed unprocessed")
                self._pause(attempt)
        return [found[_identity(key, key)] for key in keys if _identity(key, key) in found]

    def query(
        self,
        condition: KeyCondition,
        *,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        **options: Unpack[ReadOptions],
    ) -> QueryPage:
        """One page of the items ``condition`` selects, in sort-key order (reversed with ``newest_first``), at most
        ``limit`` items read, from after ``start_key``. ``filter`` and ``projection`` are expressions over
        ``names`` and ``values`` (the key condition's placeholders are its own)."""
        request = self._query_request(condition, **options)
        if limit is not None:
            request["Limit"] = limit
        if start_key:
            request["ExclusiveStartKey"] = dict(start_key)
        response = self._call(lambda: self._send("query", request))
        last: dict[str, Any] | None = response.get("LastEvaluatedKey")
        return QueryPage(items=list(response.get("Items", [])), last_key=last or None)

    def query_page(
        self,
        condition: KeyCondition,
        *,
        limit: int,
        cursor: str | None,
        scope: str,
        **options: Unpack[ReadOptions],
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a list a client pages through (``limit`` held to 1-100): the items and the cursor of the
        next page (``None`` at the end). The cursor is bound to ``scope`` (the list it came from) and to the
        condition's partition, so a cursor of another list is refused (VAL_CURSOR_INVALID) before anything is
        read."""
        start = decode_cursor(cursor, scope, key_partition=condition.partition_value)
        page = self.query(condition, limit=max(1, min(limit, MAX_LIMIT)), start_key=start, **options)
        return page.items, encode_cursor(page.last_key, scope)

    def query_all(self, condition: KeyCondition, **options: Unpack[ReadOptions]) -> Iterator[dict[str, Any]]:
        """Every item ``condition`` selects, page after page to the end (lazily: stop early and nothing more is
        read)."""
        start: dict[str, Any] | None = None
        while True:
            page = self.query(condition, start_key=start, **options)
            yield from page.items
            if page.last_key is None:
                return
            start = page.last_key

    # --- single writes -------------------------------------------------------------------------------------

    def put(self, item: Mapping[str, Any]) -> None:
        """Write ``item`` whatever is stored."""
        self._call(lambda: self._send("put_item", {"TableName": self.name, "Item": dict(item)}))

    def put_new(self, item: Mapping[str, Any]) -> bool:
        """Write ``item`` only where no item is stored; ``False`` when one already was."""
        return self.put_if(item, "attribute_not_exists(pk)", return_stored=False) is None

    def put_if(
        self,
        item: Mapping[str, Any],
        condition: str,
        *,
        return_stored: bool = True,
        **placeholders: Unpack[Placeholders],
    ) -> Refusal | None:
        """Write ``item`` on ``condition``: ``None`` when it was written, a ``Refusal`` when the condition did not
        hold, carrying the stored item that the refused write returned (no second read) unless ``return_stored`` is
        false."""
        request = self.put_action(item, condition=condition, return_stored=return_stored, **placeholders)
        refused: list[dict[str, Any] | None] = []
        if self._conditional(lambda: self._send("put_item", request["Put"]), refused) is None:
            return Refusal(stored=refused[0] if refused else None)
        return None

    def put_if_version(self, item: Mapping[str, Any], expected_version: int) -> dict[str, Any]:
        """Write ``item`` as version ``expected_version + 1`` (its ``version`` attribute); version 0 means "must not
        exist yet". Returns the item written; ``VersionConflictError`` with the stored item (returned by the refused
        write itself) when another writer came first."""
        written = {**item, VERSION: expected_version + 1}
        if expected_version == 0:
            refusal = self.put_if(written, "attribute_not_exists(pk)")
        else:
            refusal = self.put_if(
                written, "#v = :expected", names={"#v": VERSION}, values={":expected": expected_version}
            )
        if refusal is not None:
            current = refusal.stored
            version = int(current[VERSION]) if current and VERSION in current else None
            raise VersionConflictError(current, version)
        return written

    def update_if(
        self, key: Mapping[str, Any], update: str, *, returns: str = "NONE", **conditions: Unpack[Conditions]
    ) -> dict[str, Any] | None:
        """One UpdateItem: the attributes it returned (as ``returns`` asks; ``{}`` for ``NONE``), or ``None`` when
        ``condition`` did not hold. Sent again after a jittered pause when it meets a concurrent transaction."""
        request = self.update_action(key, update, **conditions)["Update"]
        request["ReturnValues"] = returns
        response = self._conditional(lambda: self._send("update_item", request))
        if response is None:
            return None
        attributes: dict[str, Any] = response.get("Attributes", {})
        return attributes

    def delete(self, key: Mapping[str, Any]) -> None:
        """Remove the item at ``key`` (nothing happens when there is none)."""
        self._call(lambda: self._send("delete_item", {"TableName": self.name, "Key": dict(key)}))

    def delete_many(self, keys: Iterable[Mapping[str, Any]]) -> None:
        """Remove the items at ``keys``, 25 per BatchWriteItem; what DynamoDB leaves unprocessed is sent again after a
        pause, and ``DependencyUnavailableError`` when it keeps leaving some."""
        pending = [{"DeleteRequest": {"Key": dict(key)}} for key in keys]
        while pending:
            chunk, pending = pending[:_BATCH_WRITE_ITEMS], pending[_BATCH_WRITE_ITEMS:]
            for attempt in range(1, _BATCH_ATTEMPTS + 1):
                response = self._call(partial(self._send, "batch_write_item", {"RequestItems": {self.name: chunk}}))
                chunk = list((response.get("UnprocessedItems") or {}).get(self.name, []))
                if not chunk:
                    break
                if attempt == _BATCH_ATTEMPTS:
                    raise DependencyUnavailableError(COMPONENT, "UnprocessedItems")
                self._pause(attempt)

    # --- transactions --------------------------------------------------------------------------------------

    def put_action(
        self, item: Mapping[str, Any], *, return_stored: bool = False, **conditions: Unpack[Conditions]
    ) -> dict[str, Any]:
        """A Put for ``transact``; with ``return_stored`` a failed condition hands back the stored item."""
        return _action("Put", {"TableName": self.name, "Item": dict(item)}, return_stored, **conditions)

    def put_new_action(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """A Put for ``transact`` on condition that no item is stored at its key."""
        return self.put_action(item, condition="attribute_not_exists(pk)")

    def update_action(
        self, key: Mapping[str, Any], update: str, *, return_stored: bool = False, **conditions: Unpack[Conditions]
    ) -> dict[str, Any]:
        """An Update for ``transact``; with ``return_stored`` a failed condition hands back the stored item."""
        request: dict[str, Any] = {"TableName": self.name, "Key": dict(key), "UpdateExpression": update}
        return _action("Update", request, return_stored, **conditions)

    def delete_action(self, key: Mapping[str, Any], **conditions: Unpack[Conditions]) -> dict[str, Any]:
        """A Delete for ``transact`` (only while the item meets ``condition``, when given)."""
        return _action("Delete", {"TableName": self.name, "Key": dict(key)}, False, **conditions)

    def check_action(self, key: Mapping[str, Any], **conditions: Unpack[Conditions]) -> dict[str, Any]:
        """A ConditionCheck for ``transact``: the transaction applies only if the item at ``key`` meets
        ``condition``; it writes nothing there."""
        request: dict[str, Any] = {"TableName": self.name, "Key": dict(key)}
        return _action("ConditionCheck", request, False, **conditions)

    def transact(
        self, actions: Sequence[Mapping[str, Any]], *, token: str | None = None
    ) -> list[dict[str, Any]] | None:
        """Write ``actions`` (TransactWriteItems items) in one transaction: ``None`` when it applied, otherwise the
        cancellation reason of each action, in order (``Code`` ``ConditionalCheckFailed`` with the stored ``Item``
        when the action asked for it, as plain values; or ``TransactionConflict`` when concurrent transactions kept
        winning after every retry). ``DependencyUnavailableError`` for anything else. With ``token`` (the
        ``ClientRequestToken``) the same transaction sent again within ten minutes is applied once."""
        items = [dict(action) for action in actions]
        request: dict[str, Any] = {"TransactItems": items}
        if token is not None:
            request["ClientRequestToken"] = token
        for attempt in range(1, self._attempts + 1):
            try:
                self._send("transact_write_items", request)
            except Exception as exc:
                code = _client_error_code(exc)
                if code != "TransactionCanceledException":
                    if _is_sdk_error(exc):
                        raise _unavailable(exc) from exc
                    raise
                reasons = [_plain_reason(r) for r in getattr(exc, "response", {}).get("CancellationReasons", [])]
                codes = [str(r.get("Code", "None")) for r in reasons]
                if len(reasons) != len(items):
                    raise DependencyUnavailableError(COMPONENT, code) from exc
                if CONDITION_FAILED in codes:
                    return reasons
                if TRANSACTION_CONFLICT in codes:
                    if attempt < self._attempts:
                        self._pause(attempt)
                        continue
                    return reasons
                raise DependencyUnavailableError(COMPONENT, f"{code}: {', '.join(codes)}") from exc
            return None
        raise AssertionError("unreachable")

    # --- plumbing ------------------------------------------------------------------------------------------

    def _query_request(
        self,
        condition: KeyCondition,
        *,
        newest_first: bool = False,
        consistent: bool = False,
        filter: str | None = None,
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        expression, key_names, key_values = condition.render()
        if set(key_names) & set(names or {}) or set(key_values) & set(values or {}):
            raise ValueError("#k0, #k1 and :k0-:k2 are the key condition's placeholders")
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": expression,
            "ExpressionAttributeNames": {**key_names, **(names or {})},
            "ExpressionAttributeValues": {**key_values, **(values or {})},
        }
        if condition.index is not None:
            request["IndexName"] = condition.index
        if newest_first:
            request["ScanIndexForward"] = False
        if consistent:
            request["ConsistentRead"] = True
        if filter is not None:
            request["FilterExpression"] = filter
        if projection is not None:
            request["ProjectionExpression"] = projection
        return request

    def _send(self, operation: str, request: dict[str, Any]) -> Any:
        """One request to the client, its values converted on the way out and back when this gateway converts."""
        if not self._converts:
            return getattr(self._client, operation)(**request)
        return _from_wire(getattr(self._client, operation)(**_to_wire(request)))

    def _call(self, send: Callable[[], Any]) -> Any:
        """One request; any failure of the SDK or the service becomes ``DependencyUnavailableError``."""
        try:
            return send()
        except Exception as exc:
            if _is_sdk_error(exc):
                raise _unavailable(exc) from exc
            raise

    def _conditional(self, send: Callable[[], Any], refused: list[dict[str, Any] | None] | None = None) -> Any:
        """One conditional request: its response, or ``None`` when its condition did not hold (with the stored item
        appended to ``refused``, when DynamoDB returned one). Sent again when it meets a concurrent transaction."""
        for attempt in range(1, self._attempts + 1):
            try:
                return send()
            except Exception as exc:
                code = _client_error_code(exc)
                if code == "ConditionalCheckFailedException":
                    if refused is not None:
                        refused.append(_plain_item(getattr(exc, "response", {}).get("Item")))
                    return None
                if code == "TransactionConflictException" and attempt < self._attempts:
                    self._pause(attempt)
                    continue
                if _is_sdk_error(exc):
                    raise _unavailable(exc) from exc
                raise
        raise AssertionError("unreachable")

    def _pause(self, attempt: int) -> None:
        (self._wait or pause)(attempt)


def _action(
    kind: str,
    request: dict[str, Any],
    return_stored: bool,
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``transact`` item of ``kind`` (``Put``, ``Update``): ``request`` with the condition and placeholders; with
    ``return_stored`` a failed condition hands back the stored item."""
    if condition is not None:
        request["ConditionExpression"] = condition
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    if values:
        request["ExpressionAttributeValues"] = dict(values)
    if return_stored:
        request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {kind: request}


def _is_sdk_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure botocore raised (the service's answer, or none). The classes are imported here,
    after a request failed: botocore is loaded by then, and a module that only imports the gateway loads nothing."""
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, ClientError | BotoCoreError)


def _client_error_code(exc: BaseException) -> str | None:
    """The error code DynamoDB answered with (``ConditionalCheckFailedException``...), ``None`` for anything that is
    not the service's answer."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return None
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))


def _unavailable(exc: BaseException) -> DependencyUnavailableError:
    """An SDK failure as the table's ``DependencyUnavailableError``, naming the service's error code or the SDK's
    exception. (An item-rule refusal and any other exception are not translated: they are the request's fault or a
    defect, not the table's.)"""
    code = _client_error_code(exc)
    reason = code if code is not None else type(exc).__name__
    wait = getattr(exc, "retry_after", None)  # an open circuit breaker says how long it stays open
    if wait:
        return DependencyUnavailableError(COMPONENT, reason, retry_after_seconds=int(wait))
    return DependencyUnavailableError(COMPONENT, reason)


def _plain_item(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An item in DynamoDB's typed form (as an error carries it) as plain Python values."""
    if not raw:
        return None
    return {name: untyped(attribute) for name, attribute in raw.items()}


# The members of a request that hold attribute values, and those that hold whole requests.
_VALUE_MAPS = ("Item", "Key", "ExpressionAttributeValues", "ExclusiveStartKey")


def _to_wire(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request with plain values in DynamoDB's typed form (what the resource's client does on the way out)."""
    wire = dict(request)
    for member in _VALUE_MAPS:
        if member in wire:
            wire[member] = {name: typed(value) for name, value in wire[member].items()}
    if "TransactItems" in wire:
        wire["TransactItems"] = [
            {kind: _to_wire(body) for kind, body in action.items()} for action in wire["TransactItems"]
        ]
    if "RequestItems" in wire:
        wire["RequestItems"] = {table: _requested_to_wire(asked) for table, asked in wire["RequestItems"].items()}
    return wire


def _requested_to_wire(asked: Any) -> Any:
    """One table's part of a batch request: a BatchWriteItem's list of writes, or a BatchGetItem's keys."""
    if isinstance(asked, Mapping):
        return {**asked, "Keys": [{name: typed(value) for name, value in key.items()} for key in asked["Keys"]]}
    return [{kind: _to_wire(body) for kind, body in write.items()} for write in asked]


def _from_wire(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response's typed values as plain ones (what the resource's client does on the way back)."""
    plain = dict(response)
    for member in ("Item", "Attributes", "LastEvaluatedKey"):
        if plain.get(member):
            plain[member] = _plain_item(plain[member])
    if "Items" in plain:
        plain["Items"] = [_plain_item(item) for item in plain["Items"]]
    if plain.get("Responses"):
        plain["Responses"] = {
            table: [_plain_item(item) for item in found] for table, found in plain["Responses"].items()
        }
    if plain.get("UnprocessedKeys"):
        plain["UnprocessedKeys"] = {
            table: {**asked, "Keys": [_plain_item(key) for key in asked["Keys"]]}
            for table, asked in plain["UnprocessedKeys"].items()
        }
    if plain.get("UnprocessedItems"):
        plain["UnprocessedItems"] = {
            table: [{kind: {m: _plain_item(v) for m, v in body.items()} for kind, body in w.items()} for w in writes]
            for table, writes in plain["UnprocessedItems"].items()
        }
    return plain


def _plain_reason(reason: Mapping[str, Any]) -> dict[str, Any]:
    plain = dict(reason)
    if "Item" in plain:
        plain["Item"] = _plain_item(plain["Item"])
    return plain


def _identity(item: Mapping[str, Any], key: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of ``item`` under the names of ``key`` (so a batch read's answers meet the keys asked for)."""
    return tuple(item.get(name) for name in sorted(key))


def applied(reasons: list[dict[str, Any]] | None, what: str) -> bool:
    """Whether a ``transact`` applied: ``True`` when it did (``reasons`` is ``None``), ``False`` when a condition
    refused it (nothing was written); ``DependencyUnavailableError`` naming ``what`` when concurrent transactions
    kept cancelling it without any condition failing."""
    if reasons is None:
        return True
    if all(r.get("Code") != CONDITION_FAILED for r in reasons):
        raise DependencyUnavailableError(COMPONENT, f"{what} stayed contended")
    return False


def item_key(write: Mapping[str, Any]) -> tuple[str, Any, Any]:
    """The table and key (``pk``, ``sk``) a transaction action writes or checks: an item may appear only once in a
    transaction."""
    ((_, request),) = write.items()
    key = request.get("Key") or request["Item"]
    return str(request["TableName"]), key["pk"], key["sk"]
