"""Every catalogue entry becomes one function configured by the one factory, granted exactly its Access."""

from __future__ import annotations

import json
from typing import Any

from firstmile.platform.resources import SCHEDULER_DLQ
from functions.catalog import LogSubscription, Queue, Route, Schedule, TableStream
from functions.catalog.environment import function_environment
from tests.factories import placeholder_deployment
from tests.infra.assembly import Assembly, ResourceRef, as_list, function_resources, role_statements
from tests.infra.conftest import Synth

TABLE_READ = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
TABLE_WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def test_every_catalogue_entry_is_one_function(any_synth: Synth) -> None:
    assert set(function_resources(any_synth.assembly)) == {f.name for f in any_synth.catalog}


def test_functions_run_the_newest_python_on_arm64_traced_with_json_logs(any_synth: Synth) -> None:
    for name, (_stack, _, function) in function_resources(any_synth.assembly).items():
        properties = function["Properties"]
        spec = any_synth.spec(name)
        assert properties["Runtime"] == "python3.14", name
        assert properties["Architectures"] == ["arm64"], name
        assert properties["TracingConfig"] == {"Mode": "Active"}, name
        assert properties["Handler"] == "handler.lambda_handler"
        assert properties["LoggingConfig"]["LogFormat"] == "JSON", name
        assert properties["MemorySize"] == spec.memory_mb
        assert properties["Timeout"] == spec.timeout_seconds
        assert properties.get("ReservedConcurrentExecutions") == spec.reserved_concurrency
        assert len(properties["Layers"]) == 1


def test_every_function_logs_to_its_own_log_group_with_retention(any_synth: Synth) -> None:
    assembly = any_synth.assembly
    seen: set[ResourceRef] = set()
    for name, (stack, _, function) in function_resources(assembly).items():
        log_group = assembly.resolve(stack, function["Properties"]["LoggingConfig"]["LogGroup"])
        assert log_group is not None and log_group not in seen, name
        seen.add(log_group)
        properties = assembly.resource(log_group)["Properties"]
        assert properties["RetentionInDays"] == int(any_synth.context.get("logRetentionDays", 30))
        assert properties["LogGroupName"] == function["Properties"]["FunctionName"].join(["/aws/lambda/", ""])


def test_the_environment_carries_the_settings_each_function_reads(fixture_synth: Synth) -> None:
    assembly = fixture_synth.assembly
    assert any(isinstance(f.trigger, Route) and f.trigger.rate_class for f in fixture_synth.catalog)
    for name, (_stack, _, function) in function_resources(assembly).items():
        spec = fixture_synth.spec(name)
        env = function["Properties"]["Environment"]["Variables"]

        assert env["FIRSTMILE_STAGE"] == "test"
        assert env["FIRSTMILE_COMMIT"] == "0123abc"
        assert json.loads(env["FIRSTMILE_CORS_ALLOW_ORIGINS"]) == json.loads(
            str(fixture_synth.context["corsAllowOrigins"])
        )
        assert env["POWERTOOLS_SERVICE_NAME"] == "firstmile"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Firstmile"
        assert env["FIRSTMILE_TABLE_NAME"] == {"Fn::ImportValue": "firstmile-test-table-name"}
        assert env["FIRSTMILE_EXPORTS_BUCKET"] == {"Fn::ImportValue": "firstmile-test-exports-bucket-name"}
        # Every function knows the secret's name (whether it may read it is up to its role) and the token
        # issuer and audience, the same for all.
        assert env["FIRSTMILE_SIGNING_KEYS_SECRET"] == {"Fn::ImportValue": "firstmile-test-signing-keys-secret-name"}
        assert env["FIRSTMILE_ISSUER"] == fixture_synth.context["issuer"]
        assert env["FIRSTMILE_AUDIENCE"] == fixture_synth.context["audience"]
        if isinstance(spec.trigger, Route):
            assert env["FIRSTMILE_ROUTE_ROLE"] == spec.trigger.role
            # The cursor key's value, resolved by CloudFormation at deployment: never a literal in the template
            assert env["FIRSTMILE_CURSOR_KEY"] == "{{resolve:secretsmanager:firstmile-test-cursor-key:SecretString:::}}"
            assert env.get("FIRSTMILE_ROUTE_RATE_CLASS") == spec.trigger.rate_class, name
            assert env.get("FIRSTMILE_ROUTE_ALSO_ROLE") == spec.trigger.also, name
        else:
            assert "FIRSTMILE_ROUTE_ROLE" not in env
            assert "FIRSTMILE_CURSOR_KEY" not in env
            assert "FIRSTMILE_ROUTE_RATE_CLASS" not in env
        # Only the queues the entry's Access names, as a JSON object of name -> URL.
        assert _queue_url_names(env["FIRSTMILE_QUEUE_URLS"]) == {
            *spec.access.sends_to,
            *spec.access.inspects_queues,
            *spec.access.receives_from,
        }
        # The sender address only where the function sends email.
        sender = fixture_synth.context["privacySender"] if spec.access.sends_email else None
        assert env.get("FIRSTMILE_NOTIFIER_SENDER") == sender, name


def test_the_environment_is_the_one_builders(fixture_synth: Synth) -> None:
    # Given the builder, fed with placeholders where CDK passes references (which the builder never looks into)
    values = placeholder_deployment(notifier_sender="sender")
    for name, (_stack, _, function) in function_resources(fixture_synth.assembly).items():
        # When a synthesized function's variables are compared with the builder's for its entry
        env = function["Properties"]["Environment"]["Variables"]
        built = function_environment(fixture_synth.spec(name), values)

        # Then CDK set exactly the builder's variables (sorted where CDK sorts them, for a function with a version),
        # with the values that follow from the entry
        assert sorted(env) == sorted(built), name
        for variable in (
            "FIRSTMILE_STAGE",
            "FIRSTMILE_ROUTE_ROLE",
            "FIRSTMILE_ROUTE_RATE_CLASS",
            "POWERTOOLS_SERVICE_NAME",
        ):
            assert env.get(variable) == built.get(variable), (name, variable)


def test_issuer_and_audience_default_to_the_stage(real_synth: Synth) -> None:
    # Given the real app, built without issuer and audience in the context (stage dev)
    for _, _, function in function_resources(real_synth.assembly).values():
        env = function["Properties"]["Environment"]["Variables"]

        # Then every function has the stage's URNs
        assert (env["FIRSTMILE_ISSUER"], env["FIRSTMILE_AUDIENCE"]) == ("urn:firstmile:dev", "urn:firstmile:dev:api")


def _queue_url_names(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(json.loads(value))
    parts = value["Fn::Join"][1]
    # Each URL is an import; stand a placeholder in for it to read the JSON object's keys.
    text = "".join(p if isinstance(p, str) else "url" for p in parts)
    return set(json.loads(text))


def _allowed(assembly: Assembly, stack: str, role: str) -> list[tuple[str, ResourceRef | str | None]]:
    """(action, resource) pairs a role is allowed, resources resolved to the app's resources."""
    pairs = []
    for statement in role_statements(assembly, stack, role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                target = "*" if resource == "*" else assembly.resolve_arn_prefix(stack, resource)
                pairs.append((action, target))
    return pairs


# (DescribeTable, which reading the table's data also grants, is checked with the data)
_BACKUPS_READ = {"dynamodb:DescribeContinuousBackups", "dynamodb:DescribeBackup"}
BACKUP_LEVELS = {
    "none": set(),
    "read": _BACKUPS_READ,
    "create": _BACKUPS_READ | {"dynamodb:CreateBackup", "dynamodb:DeleteBackup"},
    "restore": _BACKUPS_READ | {"dynamodb:RestoreTableFromBackup", "dynamodb:RestoreTableToPointInTime"},
}
BACKUP_ACTIONS = set().union(*BACKUP_LEVELS.values())


def test_grants_are_exactly_what_access_states(fixture_synth: Synth) -> None:
    assembly = fixture_synth.assembly
    stage = assembly.stage
    table = assembly.resolve(*assembly.exports[f"firstmile-{stage}-table-arn"])
    bucket = assembly.resolve(*assembly.exports[f"firstmile-{stage}-exports-bucket-arn"])
    secret = assembly.resolve(*assembly.exports[f"firstmile-{stage}-signing-keys-secret-arn"])
    key = assembly.resolve(*assembly.exports[f"firstmile-{stage}-signing-keys-kms-key-arn"])
    bucket_key = assembly.resolve(*assembly.exports[f"firstmile-{stage}-exports-bucket-kms-key-arn"])
    archive = assembly.resolve(*assembly.exports[f"firstmile-{stage}-archive-bucket-arn"])
    failed_batches = assembly.resolve(*assembly.exports[f"firstmile-{stage}-stream-failures-bucket-arn"])
    assert bucket_key is not None and archive is not None and failed_batches is not None
    assert {f.access.stream_failures for f in fixture_synth.catalog} == {"none", "collect", "read"}
    assert {f.access.signing_keys for f in fixture_synth.catalog} == {"none", "read", "write"}
    assert {f.access.exports_bucket for f in fixture_synth.catalog} == {"none", "read", "write"}
    assert {f.access.archive_bucket for f in fixture_synth.catalog} == {"none", "write", "erase"}
    assert {f.access.sends_email for f in fixture_synth.catalog} == {False, True}
    queues = {
        name.removeprefix(f"firstmile-{stage}-queue-").removesuffix("-arn"): assembly.resolve(*value)
        for name, value in assembly.exports.items()
        if name.startswith(f"firstmile-{stage}-queue-") and name.endswith("-arn")
    }
    for name, (stack, _, function) in function_resources(assembly).items():
        spec = fixture_synth.spec(name)
        access = spec.access
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        role_properties = assembly.templates[stack]["Resources"][role]["Properties"]
        assert "ManagedPolicyArns" not in role_properties, f"{name}: managed policies grant more than Access"
        allowed = _allowed(assembly, stack, role)
        on_table = {a for a, r in allowed if r is not None and r != "*" and r.logical_id == table.logical_id}  # type: ignore[union-attr]
        # Backups (on the table and its backups' ARNs): exactly what the level states; the rest is the table's data.
        assert on_table & BACKUP_ACTIONS == BACKUP_LEVELS[access.backups], name
        assert (("dynamodb:ListBackups", "*") in allowed) == (access.backups != "none"), name
        actions_on = on_table - BACKUP_ACTIONS - ({"dynamodb:DescribeTable"} if access.backups != "none" else set())

        # Table: nothing, read only, or read and write, as Access says.
        if access.table == "none" and not isinstance(spec.trigger, TableStream):
            assert not actions_on, name
        if access.table == "read":
            assert actions_on >= TABLE_READ and not TABLE_WRITE & actions_on, name
        if access.table == "write":
            assert actions_on >= TABLE_READ | TABLE_WRITE, name

        # Exports bucket: ListBucket for HeadBucket, GetObject to read, PutObject and DeleteObject only to write; and
        # its KMS key: Decrypt to read, GenerateDataKey too to write.
        bucket_actions = {a for a, r in allowed if isinstance(r, ResourceRef) and r.logical_id == bucket.logical_id}  # type: ignore[union-attr]
        bucket_key_actions = {
            a for a, r in allowed if isinstance(r, ResourceRef) and r.logical_id == bucket_key.logical_id
        }
        assert (bucket_actions, bucket_key_actions) == {
            "none": (set(), set()),
            "read": ({"s3:ListBucket", "s3:GetObject"}, {"kms:Decrypt"}),
            "write": (
                {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"},
                {"kms:Decrypt", "kms:GenerateDataKey"},
            ),
        }[access.exports_bucket], name

        # Archive bucket: PutObject to write; list, read, rewrite and delete to erase (the prefix is checked with
        # the archive and the privacy requests).
        archive_actions = {a for a, r in allowed if isinstance(r, ResourceRef) and r.logical_id == archive.logical_id}
        expected_archive = {
            "none": set(),
            "write": {"s3:PutObject"},
            "erase": {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
        }[access.archive_bucket]
        assert archive_actions == expected_archive, name

        # Stream failures bucket: the collector lists, reads, deletes and writes; a retry reads (decision 0091).
        batch_actions = {
            a
            for a, r in allowed
            if isinstance(r, ResourceRef) and r.logical_id == failed_batches.logical_id  # type: ignore[union-attr]
        }
        expected_batch = {
            "none": set(),
            "read": {"s3:GetObject"},
            "collect": {"s3:ListBucket", "s3:GetObject", "s3:DeleteObject", "s3:PutObject"},
        }[access.stream_failures]
        if isinstance(spec.trigger, TableStream):  # its on-failure destination writes the failed batch
            expected_batch |= {"s3:PutObject", "s3:ListBucket"}
        assert batch_actions == expected_batch, name

        # Lambda: InvokeFunction only where a retry invokes, on exactly the functions named.
        invoked = [r for a, r in allowed if a == "lambda:InvokeFunction"]
        assert len(invoked) == len(access.invokes), name

        # Email: SendEmail, only for the functions that send it (the identity is checked with the privacy requests).
        assert {a for a, _ in allowed if a.startswith("ses:")} == ({"ses:SendEmail"} if access.sends_email else set())

        # Queues: send only to sends_to; attributes of inspects_queues; nothing on any other queue.
        for queue_name, queue in queues.items():
            on_queue = {a for a, r in allowed if r == queue}
            expected: set[str] = set()
            if queue_name in access.sends_to:
                expected |= {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
            if queue_name in access.inspects_queues:
                expected |= {"sqs:GetQueueAttributes"}
            if isinstance(spec.trigger, Queue) and spec.trigger.name == queue_name:
                expected |= {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl",
                             "sqs:DeleteMessage", "sqs:GetQueueAttributes"}  # fmt: skip
            if queue_name in access.receives_from:
                expected |= {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl",
                             "sqs:DeleteMessage", "sqs:GetQueueAttributes"}  # fmt: skip
            # Asynchronous invocations (a schedule's, a dead-letter task's retry) fail into the invocation DLQ.
            if isinstance(spec.trigger, Schedule | TableStream | LogSubscription) and queue_name == SCHEDULER_DLQ:
                expected |= {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
            assert on_queue == expected, f"{name} on {queue_name}"

        # Signing keys: nothing, read (GetSecretValue, and Decrypt through Secrets Manager) or also write.
        secret_actions = {a for a, r in allowed if isinstance(r, ResourceRef) and r.logical_id == secret.logical_id}  # type: ignore[union-attr]
        key_actions = {a for a, r in allowed if isinstance(r, ResourceRef) and r.logical_id == key.logical_id}  # type: ignore[union-attr]
        assert (secret_actions, key_actions) == {
            "none": (set(), set()),
            "read": ({"secretsmanager:GetSecretValue"}, {"kms:Decrypt"}),
            "write": (
                {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"},
                {"kms:Decrypt", "kms:GenerateDataKey"},
            ),
        }[access.signing_keys], name

        # The only unscoped statement is tracing (and stream listing for stream consumers, backup listing for those
        # that see backups: neither takes a resource).
        unscoped = {a for a, r in allowed if r == "*"}
        expected_unscoped = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
        if isinstance(spec.trigger, TableStream):
            expected_unscoped.add("dynamodb:ListStreams")
        if access.backups != "none":
            expected_unscoped.add("dynamodb:ListBackups")
        assert unscoped == expected_unscoped, name


def test_functions_may_write_only_to_their_own_log_group(any_synth: Synth) -> None:
    assembly = any_synth.assembly
    for name, (stack, _, function) in function_resources(assembly).items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        log_group = assembly.resolve(stack, function["Properties"]["LoggingConfig"]["LogGroup"])
        assert log_group is not None
        writes = {r for a, r in _allowed(assembly, stack, role) if a.startswith("logs:")}
        assert writes == {ResourceRef(stack, log_group.logical_id, "Arn")}, name


def test_the_layer_is_for_arm64_and_the_lambda_python(any_synth: Synth) -> None:
    layers = any_synth.assembly.resources("AWS::Lambda::LayerVersion")
    assert layers
    for _, _, layer in layers:
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]


def test_the_cursor_key_is_generated_at_deployment_and_no_function_may_read_it_at_run_time(any_synth: Synth) -> None:
    # Given the secrets of the app
    assembly = any_synth.assembly
    secrets = {
        resource["Properties"]["Name"]: (stack, logical_id, resource)
        for stack, logical_id, resource in assembly.resources("AWS::SecretsManager::Secret")
    }
    stack, logical_id, resource = secrets[f"firstmile-{assembly.stage}-cursor-key"]

    # Then the cursor key lives in the data stack, is generated by Secrets Manager (never a literal in the
    # template), and no IAM policy names it: functions get its value through the dynamic reference only
    assert stack == "FirstmileData"
    assert "GenerateSecretString" in resource["Properties"] and "SecretString" not in resource["Properties"]
    for policy_stack, _, policy in assembly.resources("AWS::IAM::Policy"):
        assert logical_id not in json.dumps(policy) or policy_stack != stack
