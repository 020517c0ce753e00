"""Failure records in the table (decision 0090): ``pk = FAILURE#<source>``, ``sk = MSG#<message id>``
(``kind = failure_record``). Each failed attempt updates the record in one UpdateItem: the newest exception, text,
traceback and payload, the highest attempt seen, the first failure time kept. Records expire 30 days after their
last failure (a dead-letter queue keeps a message 14 days)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from firstmile.failures.models import Failure, FailureRecord
from firstmile.platform.gateway import TableGateway
from firstmile.platform.items import plain, storable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RETENTION = timedelta(days=30)


def _key(source: str, message_id: str) -> dict[str, str]:
    return {"pk": f"FAILURE#{source}", "sk": f"MSG#{message_id}"}


class FailureStore:
    """The failure records of every consumer."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def record(self, failure: Failure) -> None:
        """Add one failed attempt to its message's record (made on the first)."""
        at = failure.at.isoformat()
        tenant = ", #tenant = :tenant" if failure.tenant else ""
        self._table.update_if(
            _key(failure.source, failure.message_id),
            "SET #kind = :kind, #task = :task, #source = :source, #mid = :mid, #type = :type, #msg = :msg, "
            f"#tb = :tb, #payload = :payload{tenant}, #last = :at, #first = if_not_exists(#first, :at), "
            "#expires = :expires, #attempts = if_not_exists(#attempts, :zero) "
            "ADD #seen :one",
            names={
                **({"#tenant": "tenant"} if failure.tenant else {}),
                "#kind": "kind",
                "#task": "task",
                "#source": "source",
                "#mid": "message_id",
                "#type": "exception_type",
                "#msg": "message",
                "#tb": "traceback",
                "#payload": "payload",
                "#last": "last_failed_at",
                "#first": "first_failed_at",
                "#expires": "expires_at",
                "#attempts": "attempts",
                "#seen": "failures_seen",
            },
            values={
                **({":tenant": failure.tenant} if failure.tenant else {}),
                ":kind": "failure_record",
                ":task": failure.task,
                ":source": failure.source,
                ":mid": failure.message_id,
                ":type": failure.exception_type,
                ":msg": failure.message,
                ":tb": failure.traceback,
                ":payload": storable(failure.payload) if failure.payload is not None else "",
                ":at": at,
                ":expires": int((failure.at + RETENTION).timestamp()),
                ":zero": 0,
                ":one": 1,
            },
        )
        # The attempt count only grows: a late, lower delivery number never lowers it.
        self._table.update_if(
            _key(failure.source, failure.message_id),
            "SET #attempts = :n",
            condition="#attempts < :n",
            names={"#attempts": "attempts"},
            values={":n": failure.attempt},
        )

    def get(self, source: str, message_id: str) -> FailureRecord | None:
        item = self._table.get(_key(source, message_id))
        if item is None:
            return None
        fields: dict[str, Any] = {k: plain(item[k]) for k in FailureRecord.model_fields if k in item}
        return FailureRecord.model_validate(fields)
