"""The one DynamoDB table, built from the same definition the local emulator and the tests use."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from firstmile.platform.table import KeyAttribute, TableDefinition

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_STREAM_VIEWS = {"NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES}


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


class MainTable(Construct):
    """``definition`` as an on-demand table with its stream, TTL, PITR, deletion protection and encryption."""

    def __init__(
        self, scope: Construct, construct_id: str, *, definition: TableDefinition, recovery_days: int = 7
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            definition.logical_name,
            partition_key=_attribute(definition.partition_key),
            sort_key=_attribute(definition.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=_STREAM_VIEWS[definition.stream_view],
            time_to_live_attribute=definition.ttl_attribute,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=recovery_days
            ),
            deletion_protection=True,
            # The AWS managed key: encrypted at rest with a key whose use shows in CloudTrail, at no key fee.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Users' onboarding state must survive a stack deletion; removing it is a deliberate act.
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in definition.indexes:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType(index.projection),
                non_key_attributes=list(index.attributes) if index.projection == "INCLUDE" else None,
            )
