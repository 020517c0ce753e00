"""The analytics archive's Glue database and table: Athena reads the archive bucket's gzipped JSON lines with
partition projection, so no crawler runs and no partition is ever added (decision 0073)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from firstmile.platform.resources import ARCHIVE_PREFIX

# The archive's columns: every field of a transition event, and the event's id (a digest, for counting distinct
# events when a bisected batch wrote one twice).
# Every field of an archived line but ``tenant``, which is the partition column of that name (Athena refuses a
# column repeated among the partition columns; the path holds the same value).
COLUMNS = (
    ("event_id", "string"),
    ("user", "string"),
    ("type", "string"),
    ("at", "string"),
    ("flow_id", "string"),
    ("flow_version", "int"),
    ("step_id", "string"),
    ("milestone", "string"),
    ("progress_version", "int"),
    ("sample", "boolean"),
    ("details", "map<string,string>"),
    ("enrolled_at", "string"),
    ("enrolled_version", "int"),
    ("segment", "map<string,string>"),
    ("analytics_opt_out", "boolean"),
)
# The first day an archive can hold: projection lists the days from here to today.
FIRST_DAY = "2026-01-01"


class EventArchiveTable(Construct):
    """A Glue database ``firstmile_<stage>_analytics`` and its table ``onboarding_events`` over the archive."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.database_name = f"firstmile_{stage.replace('-', '_')}_analytics"
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="Firstmile's analytics archive: onboarding transition events (gzipped JSON lines)",
            ),
        )
        location = f"s3://{bucket.bucket_name}/{ARCHIVE_PREFIX}/"
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name="onboarding_events",
                description="One row per transition event; query with tenant = '...' (projection injects it)",
                table_type="EXTERNAL_TABLE",
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name="tenant", type="string"),
                    glue.CfnTable.ColumnProperty(name="date", type="string"),
                    glue.CfnTable.ColumnProperty(name="bucket", type="string"),
                ],
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    "projection.enabled": "true",
                    # A tenant is named by the query, never listed: one tenant's rows at a time.
                    "projection.tenant.type": "injected",
                    "projection.date.type": "date",
                    "projection.date.format": "yyyy-MM-dd",
                    "projection.date.range": f"{FIRST_DAY},NOW",
                    "projection.date.interval": "1",
                    "projection.date.interval.unit": "DAYS",
                    "projection.bucket.type": "enum",
                    "projection.bucket.values": ",".join("0123456789abcdef"),
                    "storage.location.template": f"{location}tenant=${{tenant}}/date=${{date}}/bucket=${{bucket}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "false", "case.insensitive": "false"},
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in COLUMNS],
                ),
            ),
        )
        self.table.add_dependency(database)
