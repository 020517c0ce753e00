"""The one DynamoDB table, declared once. CDK builds it from this; the local emulator and the tests too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttributeType = Literal["S", "N", "B"]
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index: its keys and what it projects (``attributes`` besides the keys, for INCLUDE).

    An index entry is written again whenever a projected attribute of its item changes, so an index projects only
    what its queries read (decision 0049). DynamoDB cannot change a deployed index's keys or projection in place:
    a different projection is a new index, under a new name.
    """

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: Projection = "ALL"
    attributes: tuple[str, ...] = ()

    def projection_request(self) -> dict[str, Any]:
        """The ``Projection`` of a ``create_table`` index."""
        request: dict[str, Any] = {"ProjectionType": self.projection}
        if self.projection == "INCLUDE":
            request["NonKeyAttributes"] = list(self.attributes)
        return request


@dataclass(frozen=True)
class TableDefinition:
    """Key schema, indexes, TTL and stream of a table; nothing else may state them."""

    logical_name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    indexes: tuple[GlobalIndex, ...] = field(default_factory=tuple)
    ttl_attribute: str = "expires_at"
    stream_view: Literal["NEW_AND_OLD_IMAGES"] = "NEW_AND_OLD_IMAGES"

    def attribute_definitions(self) -> list[KeyAttribute]:
        """Every key attribute of the table and its indexes, once each."""
        seen: dict[str, KeyAttribute] = {}
        keys = [self.partition_key, self.sort_key]
        for index in self.indexes:
            keys += [index.partition_key] + ([index.sort_key] if index.sort_key else [])
        for key in keys:
            seen.setdefault(key.name, key)
        return list(seen.values())

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """The boto3 ``create_table`` arguments for this definition (on-demand billing, stream on)."""

        def schema(pk: KeyAttribute, sk: KeyAttribute | None) -> list[dict[str, str]]:
            keys = [{"AttributeName": pk.name, "KeyType": "HASH"}]
            return keys + ([{"AttributeName": sk.name, "KeyType": "RANGE"}] if sk else [])

        request: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": a.name, "AttributeType": a.type} for a in self.attribute_definitions()
            ],
            "KeySchema": schema(self.partition_key, self.sort_key),
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": self.stream_view},
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": schema(index.partition_key, index.sort_key),
                    "Projection": index.projection_request(),
                }
                for index in self.indexes
            ]
        return request


MAIN_TABLE = TableDefinition(
    logical_name="Table",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    indexes=(
        # API clients of a tenant, a user's refresh pointers, audit entries by action: read whole from the index.
        GlobalIndex("gsi1", KeyAttribute("gsi1pk"), KeyAttribute("gsi1sk")),
        # Users on a flow version in enrolment order (migration listing, a rollout guard's users): only what those
        # read, none of which a step changes, so a step's write costs the index nothing (decision 0049).
        GlobalIndex(
            "gsi2",
            KeyAttribute("gsi2pk"),
            KeyAttribute("gsi2sk"),
            projection="INCLUDE",
            attributes=("user", "flow_id", "flow_version", "enrolled_at", "completed_at", "sample"),
        ),
        # Users in onboarding by the day of their last change, for the daily idle job (decision 0072): keys only,
        # and keyed by day, so a step on a day the user already acted on costs the index nothing.
        GlobalIndex("gsi3", KeyAttribute("gsi3pk"), KeyAttribute("gsi3sk"), projection="KEYS_ONLY"),
    ),
    ttl_attribute="expires_at",
)
