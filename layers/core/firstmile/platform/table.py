"""The one DynamoDB table, declared once. CDK builds it from this; the local emulator and the tests too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttributeType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None


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
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ]
        return request


MAIN_TABLE = TableDefinition(
    logical_name="Table",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    indexes=(GlobalIndex("gsi1", KeyAttribute("gsi1pk"), KeyAttribute("gsi1sk")),),
    ttl_attribute="expires_at",
)
