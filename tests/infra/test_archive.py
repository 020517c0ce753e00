"""The analytics archive in CDK: its Glue table reads the archive bucket with partition projection (no crawler, no
partitions to add), and only the archiver may add objects there, under events/ only (decision 0073); the privacy
request worker erases users from the same objects (tests/infra/test_privacy.py)."""

from __future__ import annotations

from typing import Any

from firstmile.onboarding.models import TransitionEvent
from firstmile.platform.resources import ARCHIVE_PREFIX
from tests.infra.assembly import as_list, function_resources, role_statements
from tests.infra.conftest import Synth


def test_the_glue_table_projects_tenant_day_and_bucket_partitions_of_the_archive(real_synth: Synth) -> None:
    # Given the synthesized app
    assembly = real_synth.assembly
    archive = assembly.resolve(*assembly.exports[f"firstmile-{assembly.stage}-archive-bucket-name"])
    tables = assembly.resources("AWS::Glue::Table")
    databases = assembly.resources("AWS::Glue::Database")

    # Then there is one database and one table of gzipped JSON lines, partitioned by tenant, day and bucket
    assert len(tables) == len(databases) == 1
    stack, _, table = tables[0]
    given = table["Properties"]["TableInput"]
    assert given["Name"] == "onboarding_events"
    assert [k["Name"] for k in given["PartitionKeys"]] == ["tenant", "date", "bucket"]
    descriptor = given["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    # ...whose columns are every field an archived line holds (the event's id and the transition event's fields), the
    # tenant being the partition column of that name, never repeated as a column
    assert {c["Name"] for c in descriptor["Columns"]} == {"event_id", *TransitionEvent.model_fields} - {"tenant"}
    # ...found by projection: the tenant named by each query, days up to today, sixteen buckets
    parameters = given["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.tenant.type"] == "injected"
    assert (parameters["projection.date.type"], parameters["projection.date.range"].endswith(",NOW")) == ("date", True)
    assert parameters["projection.bucket.values"].split(",") == list("0123456789abcdef")
    template = parameters["storage.location.template"]
    assert template["Fn::Join"][1][-1].endswith(
        f"/{ARCHIVE_PREFIX}/tenant=${{tenant}}/date=${{date}}/bucket=${{bucket}}/"
    )
    assert assembly.resolve(stack, template["Fn::Join"][1][1]) == archive


def test_only_the_archiver_and_the_eraser_touch_the_archive_and_the_archiver_only_adds_under_its_prefix(
    real_synth: Synth,
) -> None:
    assembly = real_synth.assembly
    archive = assembly.resolve(*assembly.exports[f"firstmile-{assembly.stage}-archive-bucket-arn"])
    assert archive is not None
    writers: dict[str, list[tuple[list[str], Any]]] = {}
    for name, (stack, _, function) in function_resources(assembly).items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        for statement in role_statements(assembly, stack, role):
            for resource in as_list(statement["Resource"]):
                target = assembly.resolve_arn_prefix(stack, resource)
                if target is not None and target.logical_id == archive.logical_id:
                    writers.setdefault(name, []).append((as_list(statement["Action"]), resource))
    # The request worker's own grants (erasure, under events/ only) are checked with the privacy requests.
    assert sorted(writers) == ["analytics_archiver", "privacy_request_worker"]
    [(actions, resource)] = writers["analytics_archiver"]
    assert actions == ["s3:PutObject"]
    assert resource["Fn::Join"][1][-1] == f"/{ARCHIVE_PREFIX}/*"
