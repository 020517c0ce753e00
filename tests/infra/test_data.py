"""The table and the buckets: built from the shared definitions, protected, encrypted and expiring."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from firstmile.platform.resources import BUCKETS
from firstmile.platform.table import MAIN_TABLE
from tests.infra.conftest import Synth


def test_the_table_follows_main_table_with_pitr_deletion_protection_and_encryption(real_synth: Synth) -> None:
    # Given the data stack
    template = Template.from_json(real_synth.assembly.templates["FirstmileData"])

    # Then it has the one table, keyed and indexed as MAIN_TABLE says, and protected against loss
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "KeySchema": [
                    {"AttributeName": MAIN_TABLE.partition_key.name, "KeyType": "HASH"},
                    {"AttributeName": MAIN_TABLE.sort_key.name, "KeyType": "RANGE"},
                ],
                "AttributeDefinitions": Match.array_equals(
                    [{"AttributeName": a.name, "AttributeType": a.type} for a in MAIN_TABLE.attribute_definitions()]
                ),
                "GlobalSecondaryIndexes": [
                    Match.object_like({"IndexName": index.name, "Projection": index.projection_request()})
                    for index in MAIN_TABLE.indexes
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamViewType": MAIN_TABLE.stream_view},
                "TimeToLiveSpecification": {"AttributeName": MAIN_TABLE.ttl_attribute, "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 7},
                "DeletionProtectionEnabled": True,
                "SSESpecification": {"SSEEnabled": True},
            },
        },
    )


def test_the_table_keys_match_what_the_local_emulator_creates(real_synth: Synth) -> None:
    # Given the request the local stack sends to create the table
    request = MAIN_TABLE.create_table_request("firstmile")
    table = next(iter(r for _, _, r in real_synth.assembly.resources("AWS::DynamoDB::Table")))["Properties"]

    # Then CDK declares the same keys and indexes
    assert table["KeySchema"] == request["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(request["AttributeDefinitions"], key=str)
    assert [(i["KeySchema"], i["Projection"]) for i in table["GlobalSecondaryIndexes"]] == [
        (i["KeySchema"], i["Projection"]) for i in request["GlobalSecondaryIndexes"]
    ]


def test_buckets_are_private_encrypted_tls_only_logged_and_expiring(real_synth: Synth) -> None:
    # Given the data stack's buckets
    template = Template.from_json(real_synth.assembly.templates["FirstmileData"])
    buckets = template.find_resources("AWS::S3::Bucket")
    policies = template.find_resources("AWS::S3::BucketPolicy")

    # Then every bucket blocks public access, encrypts (with SSE-S3, or its own KMS key when its definition says so),
    # denies plain HTTP and expires its objects
    assert len(buckets) == len(BUCKETS) + 1  # plus the access-log bucket
    with_key = {
        logical_id
        for definition in BUCKETS
        if definition.kms
        for logical_id in buckets
        if logical_id.startswith(f"Buckets{definition.logical_name}")
    }
    assert len(with_key) == sum(1 for definition in BUCKETS if definition.kms)
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        algorithm = encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        assert algorithm == ("aws:kms" if logical_id in with_key else "AES256"), logical_id
        assert any("ExpirationInDays" in rule for rule in properties["LifecycleConfiguration"]["Rules"])
        tls = [
            s
            for p in policies.values()
            if p["Properties"]["Bucket"] == {"Ref": logical_id}
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert tls, f"{logical_id} accepts requests without TLS"

    # And every bucket from the definitions logs its access and expires as its definition says
    for definition in BUCKETS:
        matches = [b for i, b in buckets.items() if i.startswith(f"Buckets{definition.logical_name}")]
        assert len(matches) == 1
        properties = matches[0]["Properties"]
        assert "LoggingConfiguration" in properties
        expirations = [
            r["ExpirationInDays"] for r in properties["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r
        ]
        assert expirations == [definition.expire_after_days]


def test_alarms_have_one_tls_only_topic(real_synth: Synth) -> None:
    template = Template.from_json(real_synth.assembly.templates["FirstmileData"])
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_the_point_in_time_window_is_the_deployments_choice(fixture_synth: Synth) -> None:
    (table,) = [
        r
        for _, _, r in fixture_synth.assembly.resources("AWS::DynamoDB::Table")
        if "StreamSpecification" in r["Properties"]
    ]
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True,
        "RecoveryPeriodInDays": 14,
    }
