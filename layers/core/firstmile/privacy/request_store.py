"""Where data subject requests and erasure tombstones are kept (decision 0083).

Key formats (docs/data-model.md):
- a request: ``pk = TENANT#<t>#DSR``, ``sk = REQUEST#<request id>`` (``kind = privacy_request``); request ids begin
  with their creation time, so the partition lists newest first. ``gsi1pk = TENANT#<t>#DSR#STATE#<state>``,
  ``gsi1sk = <request id>``: a tenant's requests in one state;
- an open request's deadline entry, while it is open: ``pk = DSR#OPEN``,
  ``sk = <deadline>#<tenant>#<request id>`` (``kind = privacy_request_open``: state and type), so the daily deadline
  job reads the deployment's open requests with one Query; ``gsi1pk = TENANT#<t>#DSR#OPEN``,
  ``gsi1sk = <deadline>#<request id>``: one tenant's open requests, soonest deadline first (its overdue list);
- a tombstone: ``pk = TENANT#<t>#TOMBSTONES``, ``sk = USER#<user>`` (``kind = erasure_tombstone``): the user was
  erased; late events naming them are dropped, and a restore from backup is followed by erasing them again;
  ``gsi1pk = TOMBSTONES``, ``gsi1sk = <tenant>#<user>``: the deployment's tombstones, for that.

Each change of a request is one transaction: the request on condition of the version read, its deadline entry put or
deleted, the retention entry that deletes it three years after it closed (decision 0085), and the change's audit
entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from firstmile.audit.logic import format_time
from firstmile.audit.models import AuditEvent
from firstmile.audit.store import AuditStore
from firstmile.platform.gateway import TableGateway, applied, partition
from firstmile.platform.items import plain, stored_fields
from firstmile.privacy.requests import OPEN_STATES, PrivacyRequest, PrivacySettings, RequestState
from firstmile.privacy.retention import retention_entry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

OPEN_PARTITION = "DSR#OPEN"
TOMBSTONES_INDEX = "TOMBSTONES"


def _requests_pk(tenant: str) -> str:
    return f"TENANT#{tenant}#DSR"


def _state_pk(tenant: str, state: RequestState) -> str:
    return f"TENANT#{tenant}#DSR#STATE#{state.value}"


def _open_pk(tenant: str) -> str:
    return f"TENANT#{tenant}#DSR#OPEN"


def _tombstones_pk(tenant: str) -> str:
    return f"TENANT#{tenant}#TOMBSTONES"


def _request_key(tenant: str, request_id: str) -> dict[str, str]:
    return {"pk": _requests_pk(tenant), "sk": f"REQUEST#{request_id}"}


_when = format_time


def _open_key(request: PrivacyRequest) -> dict[str, str]:
    return {"pk": OPEN_PARTITION, "sk": f"{_when(request.deadline_at)}#{request.tenant}#{request.request_id}"}


class RequestStore:
    """A tenant's privacy requests, the deployment's open ones by deadline, and the tombstones of erased users."""

    def __init__(
        self, table: Table | TableGateway, *, audit: AuditStore | None = None, closed_retention_days: int = 1095
    ) -> None:
        self._table = TableGateway.of(table)
        self._audit = audit or AuditStore(self._table)
        # A closed request is kept this long, then deleted by the retention job (decision 0085).
        self._closed_retention = timedelta(days=closed_retention_days)

    # --- requests ----------------------------------------------------------------------------------------------

    def save(self, request: PrivacyRequest, *, event: AuditEvent) -> bool:
        """Store ``request`` (its ``version`` one more than the stored one's, or 1 for a new request) with its
        deadline entry and ``event``'s audit entry: ``False`` (nothing written) when the stored request is not at
        ``version - 1`` any more."""
        item = {
            **_request_key(request.tenant, request.request_id),
            "kind": "privacy_request",
            "gsi1pk": _state_pk(request.tenant, request.state),
            "gsi1sk": request.request_id,
            **stored_fields(request),
        }
        read = request.version - 1
        condition: dict[str, Any] = (
            {"condition": "attribute_not_exists(pk)"}
            if read == 0
            else {"condition": "#v = :read", "names": {"#v": "version"}, "values": {":read": read}}
        )
        writes = [self._table.put_action(item, **condition)]
        if request.state in OPEN_STATES:
            writes.append(
                self._table.put_action(
                    {
                        **_open_key(request),
                        "kind": "privacy_request_open",
                        "gsi1pk": _open_pk(request.tenant),
                        "gsi1sk": f"{_when(request.deadline_at)}#{request.request_id}",
                        "tenant": request.tenant,
                        "request_id": request.request_id,
                        "type": request.type.value,
                        "state": request.state.value,
                    }
                )
            )
        else:
            writes.append(self._table.delete_action(_open_key(request)))
            # Closed: kept as the proof it was answered, then deleted by the retention job.
            due = (request.updated_at + self._closed_retention).date()
            writes.append(
                self._table.put_action(
                    retention_entry(_request_key(request.tenant, request.request_id), "privacy_request", due)
                )
            )
        return applied(self._audit.transact(writes, event), f"privacy request {request.request_id}")

    def get(self, tenant: str, request_id: str) -> PrivacyRequest | None:
        item = self._table.get(_request_key(tenant, request_id))
        return _request_from(item) if item else None

    def page(
        self, tenant: str, *, state: RequestState | None, limit: int, cursor: str | None
    ) -> tuple[list[PrivacyRequest], str | None]:
        """A page of the tenant's requests, newest first: all of them, or those in ``state``."""
        if state is None:
            condition = partition(_requests_pk(tenant)).begins_with("REQUEST#")
        else:
            condition = partition(_state_pk(tenant, state), index="gsi1")
        scope = f"dsr|{tenant}|{state.value if state else ''}"
        items, next_cursor = self._table.query_page(
            condition, limit=limit, cursor=cursor, scope=scope, newest_first=True
        )
        return [_request_from(item) for item in items], next_cursor

    def open_entries(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's open requests' deadline entries, soonest deadline first: one Query of the index."""
        items = self._table.query_all(partition(_open_pk(tenant), index="gsi1"))
        return [
            {"request_id": str(i["request_id"]), "state": str(i["state"]), "deadline": str(i["gsi1sk"]).split("#")[0]}
            for i in items
        ]

    def many(self, tenant: str, request_ids: Iterable[str]) -> list[PrivacyRequest]:
        items = self._table.get_many([_request_key(tenant, r) for r in request_ids], consistent=True)
        return [_request_from(item) for item in items]

    def open_before(self, moment: datetime) -> list[dict[str, str]]:
        """The deployment's open requests whose deadline is before ``moment``, and every open one when ``moment``
        is far ahead: tenant, request id, type, state, deadline. One Query."""
        items = self._table.query_all(partition(OPEN_PARTITION).between("0", _when(moment)))
        return [
            {
                "tenant": str(i["tenant"]),
                "request_id": str(i["request_id"]),
                "type": str(i["type"]),
                "state": str(i["state"]),
                "deadline": str(i["sk"]).split("#")[0],
            }
            for i in items
        ]

    # --- settings -----------------------------------------------------------------------------------------------

    def settings(self, tenant: str) -> PrivacySettings:
        item = self._table.get({"pk": _requests_pk(tenant), "sk": "SETTINGS"})
        return PrivacySettings.model_validate({k: item[k] for k in PrivacySettings.model_fields if item and k in item})

    def set_settings(self, tenant: str, settings: PrivacySettings, *, event: AuditEvent) -> None:
        item = {"pk": _requests_pk(tenant), "sk": "SETTINGS", "kind": "privacy_settings", **stored_fields(settings)}
        applied(self._audit.transact([self._table.put_action(item)], event), f"the privacy settings of {tenant}")

    # --- tombstones --------------------------------------------------------------------------------------------

    def put_tombstone(self, tenant: str, user: str, request_id: str, at: datetime) -> None:
        self._table.put(
            {
                "pk": _tombstones_pk(tenant),
                "sk": f"USER#{user}",
                "kind": "erasure_tombstone",
                # Every tombstone of the deployment, for erasing again after a restore from backup.
                "gsi1pk": TOMBSTONES_INDEX,
                "gsi1sk": f"{tenant}#{user}",
                "tenant": tenant,
                "user": user,
                "request_id": request_id,
                "erased_at": _when(at),
            }
        )

    def tombstoned(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (tenant, user) pairs have a tombstone: one BatchGetItem per hundred."""
        keys = [{"pk": _tombstones_pk(t), "sk": f"USER#{u}"} for t, u in sorted(set(pairs))]
        if not keys:
            return set()
        found = self._table.get_many(keys)
        return {(str(item["pk"]).split("#")[1], str(item["user"])) for item in found}

    def tombstones(self, tenant: str) -> list[str]:
        """The users of a tenant that were erased."""
        return [str(item["user"]) for item in self._table.query_all(partition(_tombstones_pk(tenant)))]

    def all_tombstones(self) -> list[tuple[str, str, str]]:
        """Every erased (tenant, user, when) of the deployment, to erase again after a restore: one Query of the
        index."""
        items = self._table.query_all(partition(TOMBSTONES_INDEX, index="gsi1"))
        return [(str(item["tenant"]), str(item["user"]), str(item["erased_at"])) for item in items]


def _request_from(item: dict[str, Any]) -> PrivacyRequest:
    return PrivacyRequest.model_validate({k: plain(item[k]) for k in PrivacyRequest.model_fields if k in item})
