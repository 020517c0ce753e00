"""The data subject requests in CDK (decision 0083): export packages under their own rotating KMS key, the request
worker erasing users from the archive under its prefix only, the erasure code sent by SES from the deployment's
sender domain only, and the alarm on requests past their deadline."""

from __future__ import annotations

from firstmile.platform.resources import ARCHIVE_PREFIX
from firstmile.privacy.signals import OVERDUE_METRIC
from infra.constructs.alarms import APPLICATION_ALARMS
from infra.settings import REPO_ROOT
from tests.infra.assembly import ResourceRef, as_list, function_resources, role_statements
from tests.infra.conftest import Synth

# CloudWatch's longest alarm period.
MAX_ALARM_PERIOD_SECONDS = 86_400


def _role(synth: Synth, function: str) -> tuple[str, str]:
    """The stack and logical id of a catalogue function's role."""
    stack, _, resource = function_resources(synth.assembly)[function]
    return stack, resource["Properties"]["Role"]["Fn::GetAtt"][0]


def _export(synth: Synth, key: str) -> ResourceRef:
    """The resource the data stack exports as ``key``."""
    assembly = synth.assembly
    ref = assembly.resolve(*assembly.exports[f"firstmile-{assembly.stage}-{key}"])
    assert ref is not None, key
    return ref


def test_the_exports_bucket_is_encrypted_with_its_own_rotating_kms_key(real_synth: Synth) -> None:
    # Given the exports bucket, the key its KMS key export names, and the data stack's buckets
    assembly = real_synth.assembly
    bucket = _export(real_synth, "exports-bucket-arn")
    key = _export(real_synth, "exports-bucket-kms-key-arn")
    buckets = {i: r for s, i, r in assembly.resources("AWS::S3::Bucket") if s == bucket.stack}

    # Then the bucket encrypts every object with SSE-KMS under that key (with an S3 Bucket Key: one data key per
    # bucket rather than one KMS request per object)
    encryption = buckets[bucket.logical_id]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": {"Fn::GetAtt": [key.logical_id, "Arn"]},
            },
        }
    ]
    # ... a customer-managed key of the same stack with rotation on, kept as long as the bucket it can decrypt
    resource = assembly.resource(key)
    assert (key.stack, resource["Type"]) == (bucket.stack, "AWS::KMS::Key")
    assert resource["Properties"]["EnableKeyRotation"] is True
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    # And the access-log bucket it logs to keeps SSE-S3, the only encryption server access logging can write to
    logs = buckets[buckets[bucket.logical_id]["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]]
    assert logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]


def test_the_request_worker_may_delete_archive_objects_under_events_and_nothing_broader(real_synth: Synth) -> None:
    # Given the request worker's policy statements, and those on the archive bucket
    assembly = real_synth.assembly
    stack, role = _role(real_synth, "privacy_request_worker")
    archive = _export(real_synth, "archive-bucket-arn")
    statements = role_statements(assembly, stack, role)
    on_archive = [
        s
        for s in statements
        if any(
            (target := assembly.resolve_arn_prefix(stack, r)) is not None and target.logical_id == archive.logical_id
            for r in as_list(s["Resource"])
        )
    ]

    # Then it may list the archive under events/ only, and read, rewrite and delete objects under events/ only
    assert len(on_archive) == 2
    listing, objects = sorted(on_archive, key=lambda s: as_list(s["Action"]) != ["s3:ListBucket"])
    assert as_list(listing["Action"]) == ["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": f"{ARCHIVE_PREFIX}/*"}}
    assert sorted(as_list(objects["Action"])) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert "Condition" not in objects
    [resource] = as_list(objects["Resource"])
    assert resource["Fn::Join"][1][-1] == f"/{ARCHIVE_PREFIX}/*"
    # And nothing in its role deletes objects anywhere but there and in the exports bucket (the user's packages),
    # nor names an S3 action by a wildcard or grants one on every resource
    exports = _export(real_synth, "exports-bucket-arn")
    deleted: list[ResourceRef | None] = [
        assembly.resolve_arn_prefix(stack, r)
        for s in statements
        if "s3:DeleteObject" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]
    assert sorted(ref.logical_id if ref else "?" for ref in deleted) == sorted([archive.logical_id, exports.logical_id])
    for statement in statements:
        actions = as_list(statement["Action"])
        assert not any(a.startswith("s3:") and "*" in a for a in actions), statement
        assert not (statement["Resource"] == "*" and any(a.startswith("s3:") for a in actions)), statement


def test_the_deletion_request_may_send_email_from_the_sender_domain_only(fixture_synth: Synth) -> None:
    # Given the deployment's sender address (the fixture's context sets one other than the default)
    sender = str(fixture_synth.context["privacySender"])
    assembly = fixture_synth.assembly
    senders = {}
    for name in function_resources(assembly):
        stack, role = _role(fixture_synth, name)
        for statement in role_statements(assembly, stack, role):
            if any(a.startswith("ses:") for a in as_list(statement["Action"])):
                senders[name] = statement

    # Then the function that sends the erasure code, and no other, may SendEmail, from the identity of the
    # sender's domain in the stack's own account and region
    assert list(senders) == ["compliance_deletion_request"]
    statement = senders["compliance_deletion_request"]
    assert as_list(statement["Action"]) == ["ses:SendEmail"]
    parts = statement["Resource"]["Fn::Join"][1]
    assert parts == [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":ses:",
        {"Ref": "AWS::Region"},
        ":",
        {"Ref": "AWS::AccountId"},
        f":identity/{sender.rpartition('@')[2]}",
    ]
    # And it sends from that address
    _, _, function = function_resources(assembly)["compliance_deletion_request"]
    assert function["Properties"]["Environment"]["Variables"]["FIRSTMILE_NOTIFIER_SENDER"] == sender


def test_requests_past_their_deadline_raise_a_daily_alarm_with_its_runbook(real_synth: Synth) -> None:
    # Given the application alarms of the data stack
    assembly = real_synth.assembly
    topic = _export(real_synth, "alarm-topic-arn")
    alarms = {
        alarm["Properties"]["AlarmName"]: (stack, alarm["Properties"])
        for stack, _, alarm in assembly.resources("AWS::CloudWatch::Alarm")
        if "AlarmName" in alarm["Properties"]
    }

    # Then one alarm sums the deadline job's overdue count over a day and fires on one request, notifying the alarm
    # topic on alarm and on recovery
    stack, alarm = alarms[f"firstmile-{assembly.stage}-privacy-requests-overdue"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Firstmile", OVERDUE_METRIC)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "firstmile"}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", MAX_ALARM_PERIOD_SECONDS, 1)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"
    for actions in (alarm["AlarmActions"], alarm["OKActions"]):
        assert [assembly.resolve(stack, a) for a in actions] == [topic]
    assert alarm["AlarmDescription"].endswith("Runbook: docs/runbooks/privacy-requests-overdue.md")

    # And every application alarm has a period CloudWatch accepts and a runbook that exists
    for definition in APPLICATION_ALARMS:
        assert 60 <= definition.period_minutes * 60 <= MAX_ALARM_PERIOD_SECONDS, definition.key
        assert (REPO_ROOT / definition.runbook).is_file(), definition.runbook
