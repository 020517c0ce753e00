"""Async work never disappears: queues redrive to alarmed DLQs, consumers report partial failures, schedules
and asynchronous invocations retry and dead-letter."""

from __future__ import annotations

from typing import Any

from firstmile.platform.resources import SCHEDULER_DLQ
from functions.catalog import Queue, Schedule, TableStream
from tests.infra.assembly import Assembly, ResourceRef, as_list, function_resources
from tests.infra.conftest import Synth

# The design's floor, stated here rather than imported, so changing the app's constant cannot pass the test.
MIN_MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUT_MULTIPLIER = 6


def dead_letter_targets(assembly: Assembly) -> dict[ResourceRef, str]:
    """Every queue something dead-letters into, with what sends failures there (stream mappings keep theirs in
    the stream-failures bucket, checked by the stream test)."""
    targets: dict[ResourceRef, str] = {}

    def add(stack: str, value: Any, source: str) -> None:
        ref = assembly.resolve(stack, value)
        assert ref is not None, f"{source}: dead-letter target {value} is not a resource of the app"
        if assembly.resource(ref)["Type"] == "AWS::S3::Bucket" and source.startswith("AWS::Lambda::EventSourceMapping"):
            return
        assert assembly.resource(ref)["Type"] == "AWS::SQS::Queue", f"{source}: dead-letters into a non-queue"
        targets[ResourceRef(ref.stack, ref.logical_id)] = source

    for stack, logical_id, queue in assembly.resources("AWS::SQS::Queue"):
        if "RedrivePolicy" in queue["Properties"]:
            add(stack, queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"], f"queue {logical_id}")
    for stack, logical_id, schedule in assembly.resources("AWS::Scheduler::Schedule"):
        if "DeadLetterConfig" in schedule["Properties"]["Target"]:
            add(stack, schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"], f"schedule {logical_id}")
    for kind in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"):
        for stack, logical_id, resource in assembly.resources(kind):
            destination = resource["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
            if "Destination" in destination:
                add(stack, destination["Destination"], f"{kind} {logical_id}")
    return targets


def work_queues(assembly: Assembly) -> list[tuple[str, str, dict[str, Any]]]:
    dead = dead_letter_targets(assembly)
    return [(s, i, q) for s, i, q in assembly.resources("AWS::SQS::Queue") if ResourceRef(s, i) not in dead]


def test_every_work_queue_redrives_to_a_dead_letter_queue_after_at_least_five_receives(any_synth: Synth) -> None:
    # Given every queue that is not itself a dead-letter target
    queues = work_queues(any_synth.assembly)

    # Then each one redrives into another queue, and only after several attempts
    for stack, logical_id, queue in queues:
        redrive = queue["Properties"].get("RedrivePolicy")
        assert redrive is not None, f"{stack}/{logical_id} has no dead-letter queue"
        assert redrive["maxReceiveCount"] >= MIN_MAX_RECEIVE_COUNT, f"{stack}/{logical_id}: {redrive}"
    expected = sum(isinstance(f.trigger, Queue) for f in any_synth.catalog)
    assert len(queues) == expected


def test_work_queues_take_max_receive_count_from_the_catalogue(fixture_synth: Synth) -> None:
    # Given the fixture's queue consumer
    worker = fixture_synth.spec("fixture_worker")
    assert isinstance(worker.trigger, Queue)

    # Then its queue's redrive policy uses the catalogue's count
    counts = [q["Properties"]["RedrivePolicy"]["maxReceiveCount"] for _, _, q in work_queues(fixture_synth.assembly)]
    assert sorted(counts) == sorted(
        f.trigger.max_receive_count for f in fixture_synth.catalog if isinstance(f.trigger, Queue)
    )


def test_every_dead_letter_queue_alarms_the_alarm_topic_on_visible_messages(any_synth: Synth) -> None:
    # Given every dead-letter queue and every alarm of the app
    assembly = any_synth.assembly
    dead = dead_letter_targets(assembly)
    topic = assembly.exports[f"firstmile-{assembly.stage}-alarm-topic-arn"]
    topic_ref = assembly.resolve(*topic)

    # Then each dead-letter queue has an alarm on its visible messages that notifies the alarm topic
    for queue in dead:
        alarms = [
            alarm
            for stack, _, alarm in assembly.resources("AWS::CloudWatch::Alarm")
            if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and alarm["Properties"].get("Namespace") == "AWS/SQS"
            and any(
                assembly.resolve(stack, d["Value"]) == ResourceRef(queue.stack, queue.logical_id, "QueueName")
                for d in alarm["Properties"].get("Dimensions", [])
            )
            and alarm["Properties"]["Threshold"] <= 1
            and alarm["Properties"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            and any(assembly.resolve(stack, a) == topic_ref for a in alarm["Properties"].get("AlarmActions", []))
        ]
        assert alarms, f"dead-letter queue {queue} ({dead[queue]}) has no visible-messages alarm to the topic"
    assert dead, "the app has no dead-letter queue at all"


def test_queue_visibility_timeout_is_at_least_six_times_the_consumer_timeout(fixture_synth: Synth) -> None:
    # Given every SQS event source mapping
    assembly = fixture_synth.assembly
    checked = 0
    for stack, logical_id, mapping in assembly.resources("AWS::Lambda::EventSourceMapping"):
        source = assembly.resolve(stack, mapping["Properties"]["EventSourceArn"])
        assert source is not None
        if assembly.resource(source)["Type"] != "AWS::SQS::Queue":
            continue
        function = assembly.resolve(stack, mapping["Properties"]["FunctionName"])
        assert function is not None

        # Then the queue hides a received message for at least six function timeouts
        timeout = assembly.resource(function)["Properties"]["Timeout"]
        visibility = assembly.resource(source)["Properties"]["VisibilityTimeout"]
        assert visibility >= VISIBILITY_TIMEOUT_MULTIPLIER * timeout, f"{logical_id}: {visibility}s < 6 x {timeout}s"
        checked += 1
    assert checked == sum(isinstance(f.trigger, Queue) for f in fixture_synth.catalog) > 0


def test_queue_consumers_report_partial_batch_failures(fixture_synth: Synth) -> None:
    # Given the queue consumer of the fixture
    stack, logical_id, _ = function_resources(fixture_synth.assembly)["fixture_worker"]
    trigger = fixture_synth.spec("fixture_worker").trigger
    assert isinstance(trigger, Queue)

    # Then its event source mapping reports failed items only and batches as the catalogue says
    mappings = [
        m["Properties"]
        for s, _, m in fixture_synth.assembly.resources("AWS::Lambda::EventSourceMapping")
        if s == stack and m["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert len(mappings) == 1
    assert mappings[0].get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
    assert mappings[0]["BatchSize"] == trigger.batch_size
    assert mappings[0]["MaximumBatchingWindowInSeconds"] == trigger.max_batching_window_seconds
    # The poller never runs more copies than the function may, so throttling cannot dead-letter work.
    assert mappings[0]["ScalingConfig"] == {
        "MaximumConcurrency": fixture_synth.spec("fixture_worker").reserved_concurrency
    }


def test_stream_consumers_bisect_retry_and_keep_failed_batches_whole_in_a_bucket(fixture_synth: Synth) -> None:
    # Given every function triggered by the table stream
    assembly = fixture_synth.assembly
    functions = function_resources(assembly)
    consumers = [f for f in fixture_synth.catalog if isinstance(f.trigger, TableStream)]
    assert consumers
    stream_failures = assembly.resolve(*assembly.exports[f"firstmile-{assembly.stage}-stream-failures-bucket-arn"])
    alarm_topic = assembly.resolve(*assembly.exports[f"firstmile-{assembly.stage}-alarm-topic-arn"])
    for spec in consumers:
        assert isinstance(spec.trigger, TableStream)
        stack, logical_id, _ = functions[spec.name]
        mappings = [
            (mapping_id, m["Properties"])
            for s, mapping_id, m in assembly.resources("AWS::Lambda::EventSourceMapping")
            if s == stack and m["Properties"]["FunctionName"] == {"Ref": logical_id}
        ]

        # Then it reads the table's stream with partial failures, bisection, bounded retries, and keeps the batches
        # it gives up on in the stream-failures bucket (where Lambda writes the records too, not only pointers)
        assert len(mappings) == 1
        mapping_id, mapping = mappings[0]
        source = assembly.resolve(stack, mapping["EventSourceArn"])
        assert source is not None and assembly.resource(source)["Type"] == "AWS::DynamoDB::Table"
        assert source.attribute == "StreamArn"
        assert mapping.get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == spec.trigger.retry_attempts
        assert mapping["BatchSize"] == spec.trigger.batch_size
        failure = assembly.resolve(stack, mapping["DestinationConfig"]["OnFailure"]["Destination"])
        assert failure == stream_failures
        assert mapping["MetricsConfig"] == {"Metrics": ["EventCount"]}
        # And records kept there, or dropped, raise an alarm that notifies the alarm topic
        alarmed = {
            a["Properties"]["MetricName"]: a["Properties"]
            for s, _, a in assembly.resources("AWS::CloudWatch::Alarm")
            if s == stack
            and {"Name": "EventSourceMappingUUID", "Value": {"Ref": mapping_id}}
            in a["Properties"].get("Dimensions", [])
        }
        assert set(alarmed) == {"OnFailureDestinationDeliveredEventCount", "DroppedEventCount"}
        for alarm in alarmed.values():
            assert alarm["Threshold"] == 1 and alarm["Statistic"] == "Sum"
            assert assembly.resolve(stack, alarm["AlarmActions"][0]) == alarm_topic


def test_every_schedule_target_has_the_scheduler_dlq_and_the_catalogue_retry_policy(any_synth: Synth) -> None:
    # Given every schedule and the scheduled functions of the catalogue
    assembly = any_synth.assembly
    scheduler_dlq = assembly.resolve(*assembly.exports[f"firstmile-{assembly.stage}-queue-{SCHEDULER_DLQ}-arn"])
    functions = {ResourceRef(s, i): name for name, (s, i, _) in function_resources(assembly).items()}
    schedules = assembly.resources("AWS::Scheduler::Schedule")
    assert len(schedules) == sum(isinstance(f.trigger, Schedule) for f in any_synth.catalog) > 0

    for stack, logical_id, schedule in schedules:
        target = schedule["Properties"]["Target"]
        function = assembly.resolve(stack, target["Arn"])
        assert function is not None
        spec = any_synth.spec(functions[ResourceRef(function.stack, function.logical_id)])
        assert isinstance(spec.trigger, Schedule)

        # Then it runs the catalogue's expression, retries as the catalogue says and dead-letters
        assert schedule["Properties"]["ScheduleExpression"] == spec.trigger.expression
        assert "DeadLetterConfig" in target, f"schedule {logical_id} has no dead-letter queue"
        assert assembly.resolve(stack, target["DeadLetterConfig"]["Arn"]) == scheduler_dlq, logical_id
        assert target.get("RetryPolicy") == {
            "MaximumRetryAttempts": spec.trigger.retry_attempts,
            "MaximumEventAgeInSeconds": spec.trigger.max_event_age_seconds,
        }


def test_asynchronously_invoked_functions_retry_and_have_an_on_failure_destination(any_synth: Synth) -> None:
    # Given the scheduled functions (EventBridge Scheduler invokes Lambda asynchronously)
    assembly = any_synth.assembly
    scheduler_dlq = assembly.resolve(*assembly.exports[f"firstmile-{assembly.stage}-queue-{SCHEDULER_DLQ}-arn"])
    configs = {
        (stack, c["Properties"]["FunctionName"]["Ref"]): c["Properties"]
        for stack, _, c in assembly.resources("AWS::Lambda::EventInvokeConfig")
    }
    for name, (stack, logical_id, _) in function_resources(assembly).items():
        spec = any_synth.spec(name)
        if not isinstance(spec.trigger, Schedule):
            continue

        # Then Lambda retries them and sends what still fails to the scheduler DLQ
        config = configs[(stack, logical_id)]
        assert config["MaximumRetryAttempts"] == min(spec.trigger.retry_attempts, 2)
        assert assembly.resolve(stack, config["DestinationConfig"]["OnFailure"]["Destination"]) == scheduler_dlq


def test_only_the_functions_that_send_to_a_queue_may_send_to_it(fixture_synth: Synth) -> None:
    # Given every policy statement that allows sqs:SendMessage
    assembly = fixture_synth.assembly
    senders: set[str] = set()
    for stack, logical_id, policy in assembly.resources("AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "sqs:SendMessage" in as_list(statement["Action"]):
                senders.add(f"{stack}/{logical_id}")

    # Then the fixture's producer is among them and nothing is allowed to send to every queue
    assert any(s.startswith("FirstmileFixture/FixtureSubmitRole") for s in senders)
    for _, _, policy in assembly.resources("AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(str(a).startswith("sqs:") for a in as_list(statement["Action"])):
                assert statement["Resource"] != "*"
