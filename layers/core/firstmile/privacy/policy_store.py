"""Where a tenant's policy versions are kept (decision 0082): ``pk = TENANT#<t>#POLICIES``,
``sk = VERSION#<type>#<version>`` (``kind = policy_version``, immutable), each put with its audit entry in one
transaction. The current version of a type is the one published last; a tenant publishes a few a year, so one
Query reads them all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from firstmile.audit.models import AuditEvent
from firstmile.audit.store import AuditStore
from firstmile.platform.gateway import TableGateway, applied, partition
from firstmile.platform.items import plain, storable, without_keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from firstmile.privacy.policies import PolicyVersion

_PREFIX = "VERSION#"


def policies_partition(tenant: str) -> str:
    return f"TENANT#{tenant}#POLICIES"


class PolicyStore:
    """A tenant's published policy versions."""

    def __init__(self, table: Table | TableGateway, *, audit: AuditStore | None = None) -> None:
        self._table = TableGateway.of(table)
        self._audit = audit or AuditStore(self._table)

    def publish(self, tenant: str, policy: PolicyVersion, *, event: AuditEvent) -> bool:
        """Put ``policy`` if its type has no such version yet, with ``event``'s entry: ``False`` (nothing written)
        when it has."""
        item = {
            "pk": policies_partition(tenant),
            "sk": f"{_PREFIX}{policy.type.value}#{policy.version}",
            "kind": "policy_version",
            **storable(policy.model_dump(mode="json")),
        }
        return applied(self._audit.transact([self._table.put_new_action(item)], event), f"the policies of {tenant}")

    def versions(self, tenant: str) -> list[PolicyVersion]:
        """Every published version of the tenant, newest first: one Query, paged to the end."""
        from firstmile.privacy.policies import PolicyVersion

        items = self._table.query_all(partition(policies_partition(tenant)).begins_with(_PREFIX), consistent=True)
        found = [PolicyVersion.model_validate(plain(without_keys(item))) for item in items]
        return sorted(found, key=lambda p: p.published_at, reverse=True)

    def current_versions(self, tenant: str) -> dict[str, str]:
        """Type -> the version published last: one Query of the versions' type, version and time only, read
        without the policy models (the status path asks)."""
        items = self._table.query_all(
            partition(policies_partition(tenant)).begins_with(_PREFIX),
            consistent=True,
            projection="#t, #v, #at",
            names={"#t": "type", "#v": "version", "#at": "published_at"},
        )
        newest: dict[str, tuple[str, str]] = {}
        for item in items:
            kind, version, at = str(item["type"]), str(item["version"]), str(item["published_at"])
            if kind not in newest or at > newest[kind][0]:
                newest[kind] = (at, version)
        return {kind: version for kind, (_, version) in newest.items()}
